"""Portal pages of approvals (namespace `approvals`): the dashboard at "/", the inbox, requests."""

from django.urls import path

from approvals import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]

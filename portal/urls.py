"""Portal pages of the portal layer (namespace `portal`): the dashboard at "/"."""

from django.urls import path

from portal import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]

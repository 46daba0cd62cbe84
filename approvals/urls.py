"""Portal pages of approvals (namespace `approvals`): the dashboard at "/", the inbox, requests."""

from django.urls import path

from approvals import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("inbox/", views.inbox, name="inbox"),
    path("promotions/<int:request_id>/", views.request_detail, name="request-detail"),
    path("promotions/<int:request_id>/decide/", views.request_decide, name="request-decide"),
    path("promotions/<int:request_id>/withdraw/", views.request_withdraw, name="request-withdraw"),
    path("models/<slug:name>/v<int:version>/promote/", views.request_open, name="request-open"),
]

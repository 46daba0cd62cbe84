"""Portal pages of approvals (namespace `approvals`): the inbox, requests,
notifications and the emergency rollback."""

from django.urls import path

from approvals import views, views_challenge, views_compliance, views_exceptions

P = "promotions/<int:request_id>/"

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path(P, views.request_detail, name="request-detail"),
    # The name approvals.notifications reverses for the links it sends.
    path(P, views.request_detail, name="promotion-detail"),
    path(P + "decide/", views.request_decide, name="request-decide"),
    path(P + "withdraw/", views.request_withdraw, name="request-withdraw"),
    path(P + "execute/", views.request_execute, name="request-execute"),
    path(P + "conditions/<int:condition_id>/resolve/", views.condition_resolve,
         name="condition-resolve"),
    path("models/<slug:name>/v<int:version>/promote/", views.request_open, name="request-open"),
    path("models/<slug:name>/v<int:version>/rollback/", views.version_rollback,
         name="version-rollback"),
    path("challenge/", views_challenge.challenge_page, name="challenge"),
    path("challenge.csv", views_challenge.challenge_csv, name="challenge-csv"),
    path("exceptions/", views_exceptions.exception_register, name="exception-register"),
    path("exceptions/<int:pk>/", views_exceptions.exception_detail, name="exception-detail"),
    path("exceptions/<int:pk>/decide/", views_exceptions.exception_decide, name="exception-decide"),
    path("exceptions/<int:pk>/withdraw/", views_exceptions.exception_withdraw,
         name="exception-withdraw"),
    path("models/<slug:name>/v<int:version>/exceptions/new/", views_exceptions.exception_request,
         name="exception-request"),
    path("models/<slug:name>/v<int:version>/compliance/", views_compliance.version_compliance,
         name="version-compliance"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read-all/", views.notification_read_all, name="notifications-read-all"),
    path("notifications/<int:notification_id>/read/", views.notification_read,
         name="notification-read"),
]

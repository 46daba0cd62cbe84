from django.urls import path
from rest_framework.routers import SimpleRouter

from approvals.api import views

router = SimpleRouter()
router.register("promotions", views.PromotionViewSet, basename="promotion")
router.register("exceptions", views.ExceptionViewSet, basename="policyexception")
router.register("notifications", views.NotificationViewSet, basename="notification")

urlpatterns = [
    path("models/<slug:model_name>/versions/<int:version>/readiness/", views.ReadinessView.as_view(),
         name="version-readiness"),
    path("models/<slug:model_name>/versions/<int:version>/compliance/",
         views.ComplianceView.as_view(), name="version-compliance"),
    path("models/<slug:model_name>/versions/<int:version>/rollback/", views.RollbackView.as_view(),
         name="version-rollback"),
    path("models/<slug:model_name>/versions/<int:version>/attestations/",
         views.AttestationListView.as_view(), name="version-attestations"),
    *router.urls,
]

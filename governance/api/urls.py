from django.urls import path

# The OpenAPI description of the token authentication (a drf-spectacular extension, registered by
# being imported) is loaded with the URLconf the schema is generated from, not at start-up: it
# imports drf-spectacular's generator helpers and with them rest_framework.test and django.test,
# ~4 MB in a worker that never generates a schema.
from governance import schema  # noqa: F401
from governance.api import views_audit as audit
from governance.api import views_auditlog as auditlog
from governance.api import views_policies as policies

urlpatterns = [
    path("me/", policies.MeView.as_view(), name="me"),
    path("policies/", policies.PolicyListView.as_view(), name="policy-list"),
    path("policies/<int:tier>/", policies.PolicyDetailView.as_view(), name="policy-detail"),
    path("policies/<int:tier>/versions/<int:version>/", policies.PolicyDetailView.as_view(),
         name="policy-version"),
    path("audit-events/", audit.AuditEventListView.as_view(), name="auditevent-list"),
    path("audit-events/verify/", audit.AuditVerifyView.as_view(), name="auditevent-verify"),
    path("audit-events/export/", audit.AuditExportView.as_view(), name="auditevent-export"),
    path("audit/checkpoints/latest/", auditlog.LatestCheckpointView.as_view(),
         name="audit-checkpoint-latest"),
    path("audit/events/<str:position>/proof/", auditlog.InclusionProofView.as_view(),
         name="audit-event-proof"),
    path("audit/consistency/", auditlog.ConsistencyProofView.as_view(),
         name="audit-consistency"),
    path("audit/public-key/", auditlog.PublicKeyView.as_view(), name="audit-public-key"),
]

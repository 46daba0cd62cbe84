"""Portal pages of the registry (namespace `registry`)."""

from django.urls import path

from registry import views

urlpatterns = [
    path("models/", views.inventory, name="inventory"),
    path("models/<slug:name>/", views.model_detail, name="model-detail"),
    path("models/<slug:name>/v<int:version>/", views.version_detail, name="version-detail"),
    path("models/<slug:name>/risk/", views.risk_assessment, name="risk"),
    path("models/<slug:name>/risk/override/", views.risk_override, name="risk-override"),
    path("datasets/", views.dataset_list, name="dataset-list"),
    path("datasets/<slug:name>/", views.dataset_detail, name="dataset-detail"),
    path("lineage/", views.lineage, name="lineage"),
    path("production-on/", views.production_on, name="production-on"),
]

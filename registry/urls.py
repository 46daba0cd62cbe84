"""Portal pages of the registry (namespace `registry`)."""

from django.urls import path

from registry import views

V = "models/<slug:name>/v<int:version>/"

urlpatterns = [
    path("models/<slug:name>/", views.model_detail, name="model-detail"),
    path(V, views.version_detail, name="version-detail"),
    path("datasets/", views.dataset_list, name="dataset-list"),
    path("datasets/<slug:name>/", views.dataset_detail, name="dataset-detail"),
    path("lineage/", views.lineage, name="lineage"),
    path("production-on/", views.production_on, name="production-on"),
]

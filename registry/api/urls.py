from django.urls import path

from registry.api import views, views_history

models = views.ModelViewSet.as_view({"get": "list", "post": "create"})
model = views.ModelViewSet.as_view({"get": "retrieve", "patch": "partial_update"})
versions = views.VersionViewSet.as_view({"get": "list", "post": "create"})
version = views.VersionViewSet.as_view({"get": "retrieve", "patch": "partial_update"})
datasets = views.DatasetViewSet.as_view({"get": "list", "post": "create"})
dataset = views.DatasetViewSet.as_view({"get": "retrieve"})
dataset_versions = views.DatasetVersionViewSet.as_view({"get": "list", "post": "create"})
dataset_version = views.DatasetVersionViewSet.as_view({"get": "retrieve"})


urlpatterns = [
    path("models/", models, name="model-list"),
    path("models/<slug:name>/", model, name="model-detail"),
    path("models/<slug:model_name>/versions/", versions, name="version-list"),
    path("models/<slug:model_name>/versions/<int:version>/", version, name="version-detail"),
    path(
        "models/<slug:model_name>/versions/<int:version>/artifact/",
        views.VersionArtifactView.as_view(),
        name="version-artifact",
    ),
    path("datasets/", datasets, name="dataset-list"),
    path("datasets/<slug:name>/", dataset, name="dataset-detail"),
    path("datasets/<slug:dataset_name>/versions/", dataset_versions, name="datasetversion-list"),
    path(
        "datasets/<slug:dataset_name>/versions/<int:version>/",
        dataset_version,
        name="datasetversion-detail",
    ),
    path(
        "datasets/<slug:dataset_name>/versions/<int:version>/file/",
        views.DatasetVersionFileView.as_view(),
        name="datasetversion-file",
    ),
    path("lineage/", views.LineageView.as_view(), name="lineage"),
    path("models/<slug:name>/stage-history/", views_history.StageHistoryView.as_view(),
         name="model-stage-history"),
]

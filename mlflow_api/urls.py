"""MLflow's Model Registry REST paths. config/urls.py mounts this module under both
`/api/2.0/mlflow/` (the client) and `/ajax-api/2.0/mlflow/` (MLflow's web UI)."""

from django.urls import path, re_path

from mlflow_api.api import views as v

urlpatterns = [
    path("registered-models/create", v.endpoint(post=v.model_create)),
    path("registered-models/get", v.endpoint(get=v.model_get)),
    path("registered-models/rename", v.endpoint(post=v.model_rename)),
    path("registered-models/update", v.endpoint(patch=v.model_update)),
    path("registered-models/delete", v.endpoint(delete=v.model_delete)),
    path("registered-models/search", v.endpoint(get=v.model_search)),
    path("registered-models/get-latest-versions",
         v.endpoint(get=v.latest_versions, post=v.latest_versions)),
    path("registered-models/set-tag", v.endpoint(post=v.model_set_tag)),
    path("registered-models/delete-tag", v.endpoint(delete=v.model_delete_tag)),
    path("registered-models/alias",
         v.endpoint(post=v.alias_set, delete=v.alias_delete, get=v.alias_get)),
    path("model-versions/create", v.endpoint(post=v.version_create)),
    path("model-versions/get", v.endpoint(get=v.version_get)),
    path("model-versions/update", v.endpoint(patch=v.version_update)),
    path("model-versions/delete", v.endpoint(delete=v.version_delete)),
    path("model-versions/transition-stage", v.endpoint(post=v.version_transition)),
    path("model-versions/search", v.endpoint(get=v.version_search)),
    path("model-versions/get-download-uri", v.endpoint(get=v.version_download_uri)),
    path("model-versions/set-tag", v.endpoint(post=v.version_set_tag)),
    path("model-versions/delete-tag", v.endpoint(delete=v.version_delete_tag)),
    re_path(r"^(?P<path>.*)$", v.not_found),
]

"""URL map. Each app contributes `api/urls.py` (under /api/v1/) and `urls.py` (portal pages,
namespaced by app: `registry:model-detail`, `approvals:inbox`, …)."""

from importlib.util import find_spec

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from governance.oidc import views as oidc_views

APPS = ("governance", "registry", "explainability", "oversight", "approvals", "openlineage_api", "portal")


def _exists(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except ModuleNotFoundError:
        return False


api_v1 = [path("", include(f"{app}.api.urls")) for app in APPS if _exists(f"{app}.api.urls")]
portal = [
    path("", include((f"{app}.urls", app), namespace=app)) for app in APPS if _exists(f"{app}.urls")
]

urlpatterns = [
    # The admin signs in through the portal's login page (one throttle, SSO, LOCAL_LOGIN).
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: the CSP refuses inline scripts.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("accounts/login/", oidc_views.LoginView.as_view(), name="login"),
    path("accounts/oidc/authenticate/", oidc_views.OIDCAuthenticateView.as_view(),
         name="oidc_authentication_init"),
    path("accounts/oidc/callback/", oidc_views.OIDCCallbackView.as_view(),
         name="oidc_authentication_callback"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    *portal,
    # MLflow's Model Registry REST API (the MLflow client and MLflow's web UI).
    path("api/2.0/mlflow/", include("mlflow_api.urls")),
    path("ajax-api/2.0/mlflow/", include("mlflow_api.urls")),
]

# Errors raised outside a DRF view: HTML for the portal, the JSON envelope under /api/.
handler400 = "common.api_errors.bad_request"
handler403 = "common.api_errors.permission_denied"
handler404 = "common.api_errors.page_not_found"
handler500 = "common.api_errors.server_error"

"""Every error under /api/ is the JSON envelope, whatever raised it.

DRF views answer their own errors through `common.errors.api_exception_handler`. What happens
before or outside a view is Django's: a URL that matches no route (a negative version number),
an oversized body (RequestDataTooBig, a SuspiciousOperation Django turns into an HTML 400), an
unhandled exception (500). The handlers below keep the portal's HTML pages and answer API paths
with the envelope (`config/urls.py` installs them as handler400/403/404/500).
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views import defaults

from common.errors import body_too_large_detail

API_PREFIXES = ("/api/", "/ajax-api/")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def envelope_response(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail, "errors": {}}, status=status)


def bad_request(request, exception=None):
    if is_api_path(request.path):
        if isinstance(exception, RequestDataTooBig):
            return envelope_response(413, "too_large", body_too_large_detail())
        return envelope_response(400, "bad_request", "The request could not be read.")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if is_api_path(request.path):
        return envelope_response(403, "forbidden", str(exception or "") or "You may not do this.")
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if is_api_path(request.path):
        return envelope_response(
            404, "not_found",
            f"There is no API endpoint or object at {request.path}; see /api/docs/ for the routes.",
        )
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api_path(request.path):
        return envelope_response(
            500, "server_error",
            "The server failed to answer this request; the error is in the server log "
            f"(request id {getattr(request, 'request_id', '-')}).",
        )
    return defaults.server_error(request)

"""Domain errors raised by services, and the one JSON error envelope of the API.

Envelope: {"code": "machine_code", "detail": "A sentence for a person.", "errors": {field: [..]}}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404

if TYPE_CHECKING:
    from rest_framework.response import Response

# DRF's Response and views are imported by the functions that answer a request: services in
# every process raise the errors above, and a worker that imported DRF's serializers through
# this module would carry rest_framework.compat's optional imports (requests, markdown,
# pygments, yaml) for nothing.


class DomainError(Exception):
    """Base for errors a service raises on purpose; each maps to one HTTP status."""

    status_code = 400
    code = "invalid"

    def __init__(self, detail: str, *, errors: dict[str, Any] | None = None, code: str = ""):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}
        if code:
            self.code = code


class ValidationFailed(DomainError):
    status_code = 400
    code = "invalid"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "too_large"


class Unprocessable(DomainError):
    status_code = 422
    code = "unprocessable"


def body_too_large_detail() -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return (
        f"The request body is larger than the limit of {limit} bytes "
        "(DATA_UPLOAD_MAX_MEMORY_SIZE); send large files as multipart file fields."
    )


def envelope(status_code: int, code: str, detail: str, errors: dict | None = None) -> Response:
    from rest_framework.response import Response

    return Response({"code": code, "detail": detail, "errors": errors or {}}, status=status_code)


def _first_message(errors: Any) -> str:
    if isinstance(errors, dict):
        for field, value in errors.items():
            msg = _first_message(value)
            if msg:
                return msg if field in ("non_field_errors", "detail") else f"{field}: {msg}"
    elif isinstance(errors, list):
        for value in errors:
            msg = _first_message(value)
            if msg:
                return msg
    elif errors:
        return str(errors)
    return ""


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    from rest_framework import exceptions as drf_exceptions
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, DomainError):
        return envelope(exc.status_code, exc.code, exc.detail, exc.errors)
    if isinstance(exc, RequestDataTooBig):  # reading request.data past DATA_UPLOAD_MAX_MEMORY_SIZE
        return envelope(413, "too_large", body_too_large_detail())
    if isinstance(exc, Http404):
        return envelope(404, "not_found", str(exc) or "Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return envelope(403, "forbidden", str(exc) or "You may not do this.")
    if isinstance(exc, drf_exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        detail = _first_message(errors) or "The request is not valid."
        return envelope(400, "invalid", f"Invalid input. {detail}", errors)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
    code = getattr(getattr(exc, "detail", None), "code", None) or getattr(exc, "default_code", "error")
    response.data = {"code": str(code), "detail": str(detail), "errors": {}}
    return response

"""Which external URIs the registry records (a version's artifact_uri, a dataset version's uri).

A recorded URI is handed back to clients (MLflow clients download from it), so only locations in
the configured artifact stores are accepted: ALLOWED_URI_SCHEMES (object stores, https, MLflow's
own references) and the artifact storage's own locations (a `file:` URI or absolute path only
when it resolves inside ARTIFACT_ROOT). Anything else is refused with a 400 naming the allowed
schemes: `file:///etc/passwd`, a relative `../../etc/passwd`, plain `http://`, and URIs whose host
is a loopback, link-local (cloud metadata, 169.254.169.254) or private address.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings

from common.errors import ValidationFailed

#: Schemes whose URIs carry a network host that must not be an internal address.
_HOST_SCHEMES = {"https", "http", "s3", "gs", "abfss", "dbfs"}


def allowed_schemes() -> list[str]:
    """The configured schemes plus the artifact storage's own, in a stable order."""
    schemes = [s.lower() for s in settings.ALLOWED_URI_SCHEMES]
    own = "s3" if getattr(settings, "ARTIFACT_STORAGE", "local") == "s3" else "file"
    return list(dict.fromkeys([*schemes, own]))


def _inside_artifact_root(raw_path: str) -> bool:
    root = Path(settings.ARTIFACT_ROOT).resolve()
    try:
        return Path(unquote(raw_path)).resolve().is_relative_to(root)
    except (OSError, ValueError):
        return False


def _internal_host(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


def refusal(uri: str) -> str:
    """Why `uri` may not be recorded ("" when it may)."""
    schemes = allowed_schemes()
    listed = ", ".join(f"{s}:" for s in schemes)
    try:
        parts = urlsplit(uri)
    except ValueError:
        return f"is not a valid URI; use one of the allowed schemes: {listed}"
    scheme = parts.scheme.lower()
    if not scheme:
        if uri.startswith("/") and "file" in schemes and _inside_artifact_root(uri):
            return ""
        return f"must be an absolute URI with one of the allowed schemes: {listed}"
    if scheme not in schemes:
        return f"uses the scheme {scheme!r}, which is not allowed; the allowed schemes are: {listed}"
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not _inside_artifact_root(parts.path):
            return (
                "is a file outside the artifact storage; upload the file instead, or use one of "
                f"the allowed schemes: {listed}"
            )
        return ""
    host = (parts.hostname or "").lower()
    if scheme in _HOST_SCHEMES and scheme != "dbfs" and not host:
        return f"has no host; the allowed schemes are: {listed}"
    if host and _internal_host(host):
        return f"points at an internal address ({host}); the allowed schemes are: {listed}"
    return ""


def check_external_uri(uri: str, *, field: str) -> str:
    """Return `uri` stripped, or raise a 400 naming `field` and the allowed schemes.

    The one URI rule of the registry: the REST API, the MLflow adapter and the importer all
    register through services that call it.
    """
    uri = (uri or "").strip()
    why = refusal(uri)
    if why:
        msg = f"{field} {why}."
        raise ValidationFailed(msg, errors={field: [msg]}, code="uri_not_allowed")
    return uri


def is_allowed(uri: str) -> bool:
    return not refusal((uri or "").strip())

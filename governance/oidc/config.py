"""OIDC configuration, read from settings at call time (tests change it), and endpoint discovery
from the issuer's `/.well-known/openid-configuration`, cached per process."""

from __future__ import annotations

import threading
import time
from typing import Any

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# mozilla-django-oidc's setting names -> the discovery document's field names.
_ENDPOINT_SETTINGS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}
_lock = threading.Lock()
_discovered: dict[str, tuple[float, dict[str, Any]]] = {}


def enabled() -> bool:
    return bool(getattr(settings, "OIDC_ISSUER", ""))


def issuer() -> str:
    return settings.OIDC_ISSUER


def provider_name() -> str:
    return settings.OIDC_PROVIDER_NAME


def discovery() -> dict[str, Any]:
    """The issuer's discovery document. Its `issuer` must be the configured one exactly (OIDC
    Discovery §4.3): a document naming another issuer is a misconfiguration or an attack."""
    iss = issuer()
    now = time.monotonic()
    with _lock:
        cached = _discovered.get(iss)
        if cached and now - cached[0] < settings.OIDC_DISCOVERY_CACHE_SECONDS:
            return cached[1]
    url = iss.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ImproperlyConfigured(
            f"Could not read the OIDC discovery document at {url}: {exc}. Check OIDC_ISSUER or "
            "give the endpoints explicitly (OIDC_AUTHORIZATION_ENDPOINT, ...)."
        ) from exc
    if document.get("issuer") != iss:
        raise ImproperlyConfigured(
            f"The discovery document at {url} names issuer {document.get('issuer')!r}, "
            f"not the configured OIDC_ISSUER {iss!r}."
        )
    with _lock:
        _discovered[iss] = (now, document)
    return document


def endpoint(name: str) -> str:
    """An endpoint given explicitly in settings (OIDC_ENDPOINTS), else discovered."""
    explicit = settings.OIDC_ENDPOINTS.get(name)
    if explicit:
        return explicit
    value = discovery().get(name)
    if not value:
        raise ImproperlyConfigured(f"The OIDC provider publishes no {name}.")
    return value


def setting(attr: str, *default: Any) -> Any:
    """mozilla-django-oidc's `get_settings`: endpoints come from `endpoint()`, the rest from
    Django settings."""
    if attr in _ENDPOINT_SETTINGS:
        return endpoint(_ENDPOINT_SETTINGS[attr])
    if default:
        return getattr(settings, attr, default[0])
    try:
        return getattr(settings, attr)
    except AttributeError:
        raise ImproperlyConfigured(f"Setting {attr} not found") from None


def forget_discovery() -> None:
    with _lock:
        _discovered.clear()

"""Verification of the provider's signed JWTs (ID tokens at sign-in, access tokens on the API)
against its JWKS, which is cached per process and fetched again, at most every
OIDC_JWKS_MIN_REFRESH_SECONDS, when a token names a key id it does not know (key rotation)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from governance.oidc import config

if TYPE_CHECKING:
    import jwt

# PyJWT (and with it `cryptography`, ~10 MB a process) is imported by the functions that verify a
# token, not here: a deployment without single sign-on never needs it, and with OIDC_ISSUER set
# config/wsgi.py imports it before gunicorn forks, so the web workers share it.

_lock = threading.Lock()
_jwks: dict[str, tuple[float, dict[str, jwt.PyJWK]]] = {}


class TokenRefused(Exception):
    """A JWT that must not be accepted; the message says why, in words a caller can act on."""


class ProviderUnavailable(TokenRefused):
    """The provider's keys could not be read: nobody's fault but the outage's (503, not 401)."""


def looks_like_jwt(value: str) -> bool:
    """Three base64url parts, the first a JSON header (`eyJ` is base64 for `{"`). Gatehouse's own
    API keys (`gh_...`) never contain a dot, so they never take the JWT path."""
    return value.startswith("eyJ") and value.count(".") == 2


def _fetch_keys(uri: str) -> dict[str, jwt.PyJWK]:
    import jwt

    try:
        response = requests.get(uri, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        keys = response.json().get("keys", [])
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(
            f"The identity provider's keys (JWKS) could not be read: {exc}."
        ) from exc
    out: dict[str, jwt.PyJWK] = {}
    for entry in keys:
        if entry.get("use", "sig") != "sig":
            continue
        try:
            out[entry.get("kid", "")] = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            continue  # a key type this process cannot use; another may still match
    return out


def signing_key(token: str) -> jwt.PyJWK:
    import jwt

    try:
        kid = jwt.get_unverified_header(token).get("kid", "")
    except jwt.PyJWTError as exc:
        raise TokenRefused(f"The token is not a well-formed JWT: {exc}.") from exc
    try:
        uri = config.endpoint("jwks_uri")
    except ImproperlyConfigured as exc:
        raise ProviderUnavailable(str(exc)) from exc
    now = time.monotonic()
    with _lock:
        fetched_at, keys = _jwks.get(uri, (0.0, {}))
    fresh = now - fetched_at < settings.OIDC_JWKS_CACHE_SECONDS
    unknown = kid not in keys and now - fetched_at > settings.OIDC_JWKS_MIN_REFRESH_SECONDS
    if not fresh or unknown:
        keys = _fetch_keys(uri)
        with _lock:
            _jwks[uri] = (now, keys)
    if kid in keys:
        return keys[kid]
    if not kid and len(keys) == 1:
        return next(iter(keys.values()))
    raise TokenRefused(f"The token is signed with key {kid!r}, which the issuer does not publish.")


def verify(token: str, *, audience: str | Iterable[str], purpose: str) -> dict[str, Any]:
    """The claims of `token` after checking its signature (issuer's JWKS, allowed algorithms
    only), issuer, audience and expiry; raises TokenRefused naming what failed."""
    import jwt

    key = signing_key(token)
    issuer = config.issuer()
    try:
        return jwt.decode(
            token,
            key,
            algorithms=settings.OIDC_SIGN_ALGORITHMS,
            audience=audience,
            issuer=issuer,
            leeway=settings.OIDC_CLOCK_SKEW_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenRefused(f"The {purpose} has expired; get a new one from the identity provider.") from None
    except jwt.InvalidAudienceError:
        aud = _unverified(token).get("aud")
        raise TokenRefused(
            f"The {purpose} is meant for audience {aud!r}, not for Gatehouse ({audience!r})."
        ) from None
    except jwt.InvalidIssuerError:
        iss = _unverified(token).get("iss")
        raise TokenRefused(
            f"The {purpose} was issued by {iss!r}, not by the trusted issuer {issuer!r}."
        ) from None
    except jwt.InvalidSignatureError:
        raise TokenRefused(
            f"The {purpose}'s signature does not verify against the issuer's keys (tampered?)."
        ) from None
    except jwt.InvalidAlgorithmError:
        raise TokenRefused(
            f"The {purpose} is signed with an algorithm Gatehouse does not accept "
            f"(accepted: {', '.join(settings.OIDC_SIGN_ALGORITHMS)})."
        ) from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRefused(f"The {purpose} lacks the {exc.claim!r} claim.") from None
    except jwt.PyJWTError as exc:
        raise TokenRefused(f"The {purpose} is not valid: {exc}.") from None


def _unverified(token: str) -> dict[str, Any]:
    import jwt

    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}


def forget_keys() -> None:
    with _lock:
        _jwks.clear()

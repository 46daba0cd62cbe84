"""Login throttling (django-axes): who is locked out, until when, what they are told, and the
audit event of each lock.

LOGIN_FAILURE_LIMIT failed sign-ins for one username, or from one address, lock that username
or address for LOGIN_LOCKOUT_MINUTES; a failure while locked starts the wait again. It covers
the portal's password form, the admin (which signs in through the portal's form), single
sign-on callbacks that fail, the MLflow API's basic authentication, and API requests with an
unknown token (counted for the address; a valid token is never slowed down by this).
"""

from __future__ import annotations

import datetime as dt

from axes.signals import user_locked_out
from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone


def client_ip(request) -> str:
    """The client's address: the peer, or with TRUSTED_PROXY_HOPS proxies in front the address
    they saw (counted from the right of X-Forwarded-For, which a client can prepend to but not
    append to)."""
    request = getattr(request, "_request", request)
    hops = settings.TRUSTED_PROXY_HOPS
    if hops > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")


def locked_until() -> dt.datetime:
    """A lock-out lasts the cool-off from the failure that (re)started it, i.e. from now."""
    return timezone.now() + settings.AXES_COOLOFF_TIME


def lockout_message(until: dt.datetime) -> str:
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return (
        f"Too many failed sign-in attempts ({settings.AXES_FAILURE_LIMIT}) for this account or "
        f"from this address. Sign-in is locked until {until:%H:%M} UTC on {until:%Y-%m-%d}; "
        f"try again then (in {minutes} minute{'s' if minutes != 1 else ''}). Further failed "
        "attempts restart the wait."
    )


def lockout_response(request, original_response=None, credentials=None):
    """What a locked-out sign-in gets: 429 with the time to retry (also as Retry-After), as the
    login page, a JSON error envelope on the API, or MLflow's error shape on its API."""
    until = locked_until().astimezone(dt.UTC)
    message = lockout_message(until)
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    path = request.path
    if path.startswith("/api/2.0/") or path.startswith("/ajax-api/2.0/"):
        response = JsonResponse(
            {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": message}, status=429
        )
    elif path.startswith("/api/"):
        response = JsonResponse(
            {"detail": message, "code": "locked_out", "retry_after": until.isoformat()},
            status=429,
        )
    else:
        from governance.oidc.views import login_context

        context = {**login_context(), "sso_error": message, "locked_out": True}
        response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = retry_after
    return response


@receiver(user_locked_out)
def _on_locked_out(sender, request, username, ip_address, **kwargs):
    # DRF hands axes its own Request wrapper; the middleware that answers with the lock-out
    # page looks at the Django request underneath.
    django_request = getattr(request, "_request", None)
    if django_request is not None:
        django_request.axes_locked_out = True
        django_request.axes_credentials = getattr(request, "axes_credentials", None)
    # Axes signals every failure once locked; the lock itself is recorded once, when the
    # failure count reaches the limit.
    if getattr(request, "axes_failures_since_start", None) != settings.AXES_FAILURE_LIMIT:
        return
    from governance import audit
    from governance.models import User

    user = User.objects.filter(username=username).first() if username else None
    until = locked_until()
    with transaction.atomic():
        audit.record(
            action="governance.login.locked_out",
            target=user,
            object_type="" if user else "client_address",
            object_id="" if user else (ip_address or ""),
            object_repr=f"sign-in for {username or '(no username)'} from {ip_address}",
            payload={
                "username": username or "",
                "ip_address": ip_address or "",
                "failures": settings.AXES_FAILURE_LIMIT,
                "locked_until": until.isoformat(),
                "path": getattr(request, "path", ""),
            },
        )

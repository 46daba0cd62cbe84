"""The portal's sign-in pages: the login page (password and/or "Sign in with <provider>"), the
start of the OIDC code flow and its callback, which refuses a response it did not ask for
(unknown state, wrong nonce, token from another issuer) with a page saying so."""

from __future__ import annotations

import logging

import requests
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.http import Http404
from django.shortcuts import render
from mozilla_django_oidc import views as oidc_views

from governance.oidc import config

logger = logging.getLogger(__name__)


def login_context() -> dict:
    return {
        "oidc_enabled": config.enabled(),
        "oidc_provider_name": config.provider_name() if config.enabled() else "",
        "local_login": settings.LOCAL_LOGIN,
    }


def _refuse(request, message: str, *, status: int = 400, count: bool = True):
    """The login page with the reason the sign-in was refused. Counts as a failed sign-in from
    this address for the login throttle (unless Django's authenticate() already counted it)."""
    logger.warning("OIDC sign-in refused: %s", message)
    if count:
        user_login_failed.send(sender=__name__, credentials={"username": None}, request=request)
    context = {**login_context(), "sso_error": message, "next": ""}
    return render(request, "registration/login.html", context, status=status)


class LoginView(auth_views.LoginView):
    """Django's login view; with LOCAL_LOGIN=0 it offers single sign-on only and refuses a
    posted password."""

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **login_context()}

    def post(self, request, *args, **kwargs):
        if not settings.LOCAL_LOGIN:
            context = {
                **login_context(),
                "sso_error": "Password sign-in is switched off here; sign in with "
                f"{config.provider_name()}.",
            }
            return render(request, "registration/login.html", context, status=403)
        return super().post(request, *args, **kwargs)


class OIDCAuthenticateView(oidc_views.OIDCAuthenticationRequestView):
    """Redirects to the provider's authorization endpoint with state, nonce and a PKCE
    challenge (S256), all remembered in the session."""

    get_settings = staticmethod(config.setting)

    def __init__(self, *args, **kwargs):
        super(oidc_views.OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    OIDC_OP_AUTH_ENDPOINT = property(lambda self: config.endpoint("authorization_endpoint"))
    OIDC_RP_CLIENT_ID = property(lambda self: settings.OIDC_RP_CLIENT_ID)

    def get(self, request):
        if not config.enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            return super().get(request)
        except ImproperlyConfigured as exc:
            return _refuse(request, f"Single sign-on is unavailable: {exc}", status=503)


class OIDCCallbackView(oidc_views.OIDCAuthenticationCallbackView):
    get_settings = staticmethod(config.setting)

    def get(self, request):
        if not config.enabled():
            raise Http404("Single sign-on is not configured.")
        if request.GET.get("error"):
            described = request.GET.get("error_description") or request.GET["error"]
            states = request.session.get("oidc_states") or {}
            if states.pop(request.GET.get("state", ""), None) is not None:
                request.session["oidc_states"] = states  # a state is good for one answer
            return _refuse(request, f"The identity provider did not sign you in: {described}.")
        state = request.GET.get("state")
        if not state or not request.GET.get("code"):
            return _refuse(request, "The sign-in response lacks its code or state.")
        if state not in (request.session.get("oidc_states") or {}):
            return _refuse(
                request,
                "This sign-in response does not belong to a sign-in started in this browser "
                "(unknown or reused state). Start again from the sign-in page.",
            )
        try:
            return super().get(request)
        except SuspiciousOperation as exc:
            return _refuse(request, f"Sign-in refused: {exc}")
        except requests.RequestException as exc:
            return _refuse(request, f"The identity provider could not complete the sign-in: {exc}",
                           status=502)

    def login_failure(self):
        return _refuse(
            self.request,
            "The identity provider's answer did not sign you in (no user could be matched). "
            "Try again, or ask an administrator.",
            count=False,
        )

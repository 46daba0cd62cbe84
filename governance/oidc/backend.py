"""The authentication backend for OIDC sign-in (mozilla-django-oidc's code flow with PKCE).

What it adds to the library: endpoints discovered lazily (nothing is fetched unless someone
signs in with OIDC), the ID token's issuer, audience and expiry checked (the library checks
only the signature), keys from the cached JWKS, and users found by `sub` with their roles and
teams set from the claims (`governance.services.oidc_user_sign_in`).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from governance.oidc import config, tokens


class OIDCBackend(OIDCAuthenticationBackend):
    get_settings = staticmethod(config.setting)

    def __init__(self, *args, **kwargs):
        # The library reads (and so would discover) every endpoint here; Django builds a backend
        # for each password sign-in too, so they are read on use instead (properties below).
        self.UserModel = get_user_model()

    OIDC_OP_TOKEN_ENDPOINT = property(lambda self: config.endpoint("token_endpoint"))
    OIDC_OP_JWKS_ENDPOINT = property(lambda self: config.endpoint("jwks_uri"))
    OIDC_RP_CLIENT_ID = property(lambda self: settings.OIDC_RP_CLIENT_ID)
    OIDC_RP_CLIENT_SECRET = property(lambda self: settings.OIDC_RP_CLIENT_SECRET)
    OIDC_RP_SIGN_ALGO = property(lambda self: settings.OIDC_SIGN_ALGORITHMS[0])
    OIDC_RP_IDP_SIGN_KEY = None

    @property
    def OIDC_OP_USER_ENDPOINT(self):  # noqa: N802 - the library's name
        explicit = settings.OIDC_ENDPOINTS.get("userinfo_endpoint")
        return explicit or config.discovery().get("userinfo_endpoint")

    def authenticate(self, request, **kwargs):
        if not config.enabled():
            return None
        return super().authenticate(request, **kwargs)

    def verify_token(self, token, **kwargs):
        """Signature, issuer, audience (our client id), expiry, and the nonce of the sign-in
        this browser started."""
        try:
            payload = tokens.verify(token, audience=settings.OIDC_RP_CLIENT_ID, purpose="ID token")
        except tokens.TokenRefused as exc:
            raise SuspiciousOperation(str(exc)) from None
        if "nonce" in kwargs and payload.get("nonce") != kwargs["nonce"]:
            raise SuspiciousOperation(
                "The ID token's nonce does not match the sign-in started in this browser "
                "(a replayed or forged response)."
            )
        return payload

    def get_userinfo(self, access_token, id_token, payload):
        if not self.OIDC_OP_USER_ENDPOINT:
            return {}
        return super().get_userinfo(access_token, id_token, payload)

    def get_or_create_user(self, access_token, id_token, payload):
        from governance import services

        userinfo = self.get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") not in (None, payload["sub"]):
            # OIDC Core §5.3.2: userinfo about another subject must not be used.
            raise SuspiciousOperation("The provider's userinfo is about another subject.")
        claims = {**payload, **userinfo}
        return services.oidc_user_sign_in(
            issuer=config.issuer(),
            claims=claims,
            role_claim=settings.OIDC_ROLE_CLAIM,
            role_map=settings.OIDC_ROLE_MAP,
            team_claim=settings.OIDC_TEAM_CLAIM,
            team_map=settings.OIDC_TEAM_MAP,
            username_claim=settings.OIDC_USERNAME_CLAIM,
        )

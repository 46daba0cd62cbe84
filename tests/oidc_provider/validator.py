"""Claims from people.json (read at each request, so a test can change them between sign-ins)
and signed JWT access tokens (RFC 9068 shape), as company providers issue them."""

from __future__ import annotations

import json
import time
import uuid

from django.conf import settings
from jwcrypto import jwt
from oauth2_provider.oauth2_validators import OAuth2Validator


def people() -> dict:
    return json.loads((settings.DATA / "people.json").read_text())


class ClaimsValidator(OAuth2Validator):
    oidc_claim_scope = None  # every claim below goes into the ID token and userinfo

    def get_additional_claims(self, request):
        person = people()["users"].get(request.user.username, {})
        return {
            "preferred_username": request.user.username,
            "email": person.get("email", ""),
            "given_name": person.get("given_name", ""),
            "family_name": person.get("family_name", ""),
            "roles": person.get("roles", []),
            "groups": person.get("groups", []),
        }


def jwt_access_token(request, refresh_token=False):
    """An access token as a JWT signed with the provider's key. Its audience and lifetime come
    from the client's entry in people.json; `sub` is the user's id, or for a client-credentials
    token the client id (the pipeline's workload identity)."""
    client = request.client
    conf = people()["clients"].get(client.client_id, {})
    now = int(time.time())
    user = getattr(request, "user", None)
    claims = {
        "iss": settings.OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"],
        "sub": str(user.pk) if user is not None and user.pk else client.client_id,
        "aud": conf.get("audience", client.client_id),
        "client_id": client.client_id,
        "scope": " ".join(request.scopes or []),
        "iat": now,
        "exp": now + int(conf.get("lifetime", 300)),
        "jti": str(uuid.uuid4()),
    }
    key = client.jwk_key
    token = jwt.JWT(
        header={"alg": "RS256", "kid": key.thumbprint(), "typ": "at+jwt"}, claims=claims
    )
    token.make_signed_token(key)
    return token.serialize()

"""OpenAPI description of Gatehouse's token authentication (a drf-spectacular extension)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "governance.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": (
                "`Token <key>` or `Bearer <key>` (create one with manage.py create_token), or, "
                "with single sign-on, `Bearer <access token>` from the identity provider (a JWT "
                "for OIDC_API_AUDIENCE whose subject is linked with manage.py oidc_link)."
            ),
        }


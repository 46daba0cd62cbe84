"""OpenAPI description of Gatehouse's token authentication and of the governance views the
generator cannot read by itself (drf-spectacular extensions)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema


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


class AttachmentDownloadSchema(OpenApiViewExtension):
    """The attachment download answers the file itself (any content type)."""

    target_class = "governance.api.views_documents.DocumentAttachmentDownloadView"

    def view_replacement(self):
        class Fixed(self.target_class):
            @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
            def get(self, request, pk: int, attachment_id: int):
                return super().get(request, pk, attachment_id)

        return Fixed

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from common.errors import ValidationFailed
from governance import services
from governance.models import User


class Command(BaseCommand):
    help = (
        "Link an OIDC subject to USERNAME, so access tokens with that subject act as the user "
        "(a pipeline's workload identity: the `sub` of its client-credentials tokens, usually "
        "its client id at the provider)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--subject", required=True, help="the token's subject claim value")
        parser.add_argument("--issuer", default="", help="default: OIDC_ISSUER")

    def handle(self, *args, **opts):
        issuer = opts["issuer"] or settings.OIDC_ISSUER
        if not issuer:
            raise CommandError("No issuer: set OIDC_ISSUER or pass --issuer.")
        try:
            user = User.objects.get(username=opts["username"])
        except User.DoesNotExist as exc:
            raise CommandError(f"No user named {opts['username']!r}.") from exc
        try:
            services.external_identity_link(user=user, issuer=issuer, subject=opts["subject"])
        except ValidationFailed as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{opts['subject']} at {issuer} -> {user.username}")

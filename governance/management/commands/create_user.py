from django.core.management.base import BaseCommand, CommandError

from common.errors import DomainError
from governance import services
from governance.choices import Role


class Command(BaseCommand):
    help = "Create a user with one or more roles: create_user USERNAME --role ROLE [--team TEAM]"

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", action="append", required=True, choices=Role.values)
        parser.add_argument("--team", action="append", default=[])
        parser.add_argument("--password", default=None, help="Portal password (optional).")
        parser.add_argument("--email", default="")

    def handle(self, *args, **opts):
        try:
            user = services.user_create(
                username=opts["username"], roles=opts["role"], teams=opts["team"],
                password=opts["password"], email=opts["email"],
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(
            f"Created {user.username} with roles {', '.join(sorted(user.role_names))}"
            + (f" in teams {', '.join(opts['team'])}" if opts["team"] else "")
        )

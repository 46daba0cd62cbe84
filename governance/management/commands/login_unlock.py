from django.core.management.base import BaseCommand, CommandError

from common.errors import ValidationFailed
from governance import services


class Command(BaseCommand):
    help = "Lift a login lock-out before it ends by itself: login_unlock [--username U] [--ip A]"

    def add_arguments(self, parser):
        parser.add_argument("--username", default="")
        parser.add_argument("--ip", default="", help="the client address that was locked")

    def handle(self, *args, **opts):
        try:
            removed = services.login_unlock(username=opts["username"], ip_address=opts["ip"])
        except ValidationFailed as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Removed {removed} failed-attempt record(s); sign-in is unlocked.")

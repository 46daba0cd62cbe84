import json

from django.core.management.base import BaseCommand, CommandError

from governance.audit import verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain end to end."

    def handle(self, *args, **opts):
        result = verify_chain()
        self.stdout.write(json.dumps(result.as_dict()))
        if not result.ok:
            raise CommandError(f"Audit chain broken at event #{result.broken_at}: {result.reason}")

import json

from django.core.management.base import BaseCommand, CommandError

from governance.audit import verify_chain


class Command(BaseCommand):
    help = ("Verify the audit log end to end: recompute the Merkle tree from every event and "
            "compare it with every signed checkpoint; report the first bad position.")

    def handle(self, *args, **opts):
        result = verify_chain()
        self.stdout.write(json.dumps(result.as_dict()))
        if not result.ok:
            raise CommandError(f"Audit log broken at event #{result.broken_at}: {result.reason}")

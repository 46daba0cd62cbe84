import json

from django.core.management.base import BaseCommand

from governance.auditlog.sealer import seal


class Command(BaseCommand):
    help = ("Seal the committed audit events beyond the last checkpoint into a new signed "
            "checkpoint (what the beat task does every AUDIT_SEAL_INTERVAL seconds).")

    def add_arguments(self, parser):
        parser.add_argument("--max-events", type=int, default=None,
                            help="At most this many positions in the new checkpoint.")
        parser.add_argument("--hole-wait", type=float, default=None,
                            help="Seconds a hole must have lasted before it is recorded as "
                                 "aborted (default AUDIT_HOLE_WAIT).")

    def handle(self, *args, **opts):
        result = seal(max_events=opts["max_events"], hole_wait=opts["hole_wait"])
        self.stdout.write(json.dumps(result.as_dict()))

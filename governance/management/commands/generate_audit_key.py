from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from governance.auditlog import signing


class Command(BaseCommand):
    help = ("Create a new Ed25519 key for signing audit checkpoints and attestations, as a PEM "
            "file readable by its owner only; point AUDIT_SIGNING_KEY_FILE at it.")

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="Path of the new key file.")

    def handle(self, *args, **opts):
        path = Path(opts["out"])
        try:
            signing.write_key_file(path)
        except FileExistsError:
            raise CommandError(f"{path} already exists: a signing key is never overwritten "
                               "(old checkpoints are signed with it).") from None
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror}.") from None
        self.stdout.write(f"Wrote {path}. Set AUDIT_SIGNING_KEY_FILE={path.resolve()}")

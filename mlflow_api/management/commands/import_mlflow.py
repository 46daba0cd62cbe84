"""manage.py import_mlflow --tracking-uri URI --as USERNAME [--team TEAM]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from common.errors import DomainError
from governance.models import Team, User
from mlflow_api.importer import import_registry


class Command(BaseCommand):
    help = (
        "Import an MLflow registry (models, versions, tags, aliases, descriptions; params, "
        "metrics and dataset inputs of each version's run) into Gatehouse. Safe to run again: "
        "what was imported before is recognised and left as it is."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tracking-uri", required=True,
                            help="The MLflow tracking server, e.g. http://mlflow.internal:5000")
        parser.add_argument("--as", dest="username", required=True,
                            help="The Gatehouse user the import acts as (named in every audit event).")
        parser.add_argument("--team", default="",
                            help="The team that owns imported models (default: the user's only team).")

    def handle(self, *args, tracking_uri: str, username: str, team: str, **options):
        actor = User.objects.filter(username=username, is_active=True).first()
        if actor is None:
            raise CommandError(f"No active Gatehouse user named {username!r}.")
        owning = None
        if team:
            owning = Team.objects.filter(name=team).first()
            if owning is None:
                raise CommandError(f"No team named {team!r}.")
        try:
            report = import_registry(tracking_uri=tracking_uri, actor=actor, team=owning)
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        for line in report.lines():
            self.stdout.write(line)

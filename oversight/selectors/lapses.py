"""Lapsed sign-offs: production versions whose signed-off documentation an edit cleared, until
the owner signs it off again (the dashboard's flag and the readiness of the version)."""

from __future__ import annotations

from django.db.models import QuerySet

from governance import permissions as perms
from oversight.models import SignOffLapse
from oversight.services.documents import sign_off_at_stake
from registry.choices import Stage

__all__ = ["lapse_sentence", "lapses_open", "lapsed_in_production", "sign_off_at_stake"]


def _lapses() -> QuerySet[SignOffLapse]:
    return SignOffLapse.objects.select_related(
        "document", "version__model", "signed_off_by", "edited_by", "finding",
    )


def lapses_open(version) -> list[SignOffLapse]:
    """The version's lapsed sign-offs not yet signed off again, newest first."""
    return list(_lapses().filter(version=version, resolved_at__isnull=True))


def lapsed_in_production(user) -> QuerySet[SignOffLapse]:
    """Open lapses of versions still in production that `user` may see (one query, joined)."""
    qs = _lapses().filter(resolved_at__isnull=True, version__stage=Stage.PRODUCTION)
    if not perms.can_read_everything(user):
        qs = qs.filter(version__model__team_id__in=user.team_ids)
    return qs.order_by("-created_at", "-id")


def lapse_sentence(lapse: SignOffLapse) -> str:
    who = getattr(lapse.signed_off_by, "username", "the owner")
    by = getattr(lapse.edited_by, "username", "someone")
    finding = f"; finding #{lapse.finding_id} is open for the owner" if lapse.finding_id else ""
    return (f"{lapse.document.template_slug} revision {lapse.signed_off_revision} (signed off by "
            f"{who} on {lapse.signed_off_at:%Y-%m-%d}) was cleared on {lapse.created_at:%Y-%m-%d} "
            f"when {by} {lapse.edit}, while the version was in production{finding}.")

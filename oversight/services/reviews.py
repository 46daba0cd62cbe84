"""Periodic review: the next review date from the tier policy, and flagging overdue models."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from governance import audit, notify
from governance.models import TierPolicy
from oversight.models import ReviewOverdue
from registry import services as registry_services
from registry.models import RegisteredModel

log = logging.getLogger(__name__)


def review_schedule_after_approval(
    *, model, policy: TierPolicy, approved_at: dt.datetime, actor=None
) -> dt.date:
    """Set the model's next review date to approval + the policy's approval validity. Runs inside
    the caller's transaction (approvals calls it when a promotion executes)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("review_schedule_after_approval must run inside the caller's transaction.")
    days = int(policy.rules.get("approval_validity_days") or 365)
    due = (approved_at + dt.timedelta(days=days)).date()
    before = registry_services.model_review_schedule(model=model, next_review_date=due)
    if before == due:
        return due
    audit.record(
        action="governance.review.scheduled", actor=actor, target=model, model_name=model.name,
        payload={"before": {"next_review_date": before.isoformat() if before else None},
                 "after": {"next_review_date": due.isoformat()},
                 "policy": {"tier": policy.tier, "version": policy.version},
                 "approval_validity_days": days},
    )
    return due


def review_mark_overdue(*, today: dt.date | None = None) -> list[str]:
    """Flag every model whose review date has passed and that is not yet flagged for that date:
    one audit event and one notification to its owner (and developers) per newly overdue model.
    Each model in its own transaction, so one failure does not hold back the others."""
    today = today or timezone.localdate()
    flagged: list[str] = []
    candidates = (
        RegisteredModel.objects.filter(next_review_date__lt=today)
        .exclude(overdue_reviews__review_date=F("next_review_date"))
        .select_related("owner").prefetch_related("developers")
    )
    for model in candidates:
        try:
            with transaction.atomic():
                _flag(model, today)
            flagged.append(model.name)
        except IntegrityError:
            continue  # another run flagged it first
    return flagged


def _flag(model, today: dt.date) -> None:
    recipients = [model.owner_id, *(d.pk for d in model.developers.all())]
    ReviewOverdue.objects.create(model=model, review_date=model.next_review_date,
                                 notified_user_ids=sorted({r for r in recipients if r}))
    days = (today - model.next_review_date).days
    audit.record(
        action="governance.review.overdue", actor=None, target=model, model_name=model.name,
        payload={"next_review_date": model.next_review_date.isoformat(), "days_overdue": days},
    )
    notify(recipients, f"Periodic review overdue: {model.name}",
           f"The periodic review of {model.name} was due on {model.next_review_date} "
           f"({days} days ago). Please start the review.", f"/models/{model.name}/")

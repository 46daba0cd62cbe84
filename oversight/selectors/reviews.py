"""Periodic reviews: the models whose review date has passed."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from governance import permissions as perms
from registry.models import RegisteredModel


def overdue_reviews(user, today: dt.date | None = None) -> QuerySet:
    """Models (that the user may see) whose periodic review date has passed, oldest first."""
    today = today or timezone.localdate()
    qs = (RegisteredModel.objects.filter(next_review_date__lt=today)
          .select_related("team", "owner").order_by("next_review_date", "name"))
    if not perms.can_read_everything(user):
        qs = qs.filter(team_id__in=user.team_ids)
    return qs

"""Celery tasks of oversight (thin: they call a service)."""

from __future__ import annotations

from celery import shared_task

from oversight import services


@shared_task(name="oversight.tasks.mark_overdue_reviews", ignore_result=True)
def mark_overdue_reviews() -> list[str]:
    """Beat: flag models whose periodic review date has passed, notify their owners."""
    return services.review_mark_overdue()


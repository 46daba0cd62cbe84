"""Celery tasks of governance (thin: they call a service)."""

from __future__ import annotations

from celery import shared_task

from governance import services


@shared_task(name="governance.tasks.mark_overdue_reviews", ignore_result=True)
def mark_overdue_reviews() -> list[str]:
    """Beat: flag models whose periodic review date has passed, notify their owners."""
    return services.review_mark_overdue()


@shared_task(name="governance.tasks.seal_audit_log", ignore_result=True)
def seal_audit_log() -> dict:
    """Beat: seal the committed audit events beyond the last checkpoint into a signed one."""
    from governance.auditlog.sealer import seal

    return seal().as_dict()

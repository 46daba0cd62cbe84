"""Celery tasks of governance (thin: they call a service)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="governance.tasks.seal_audit_log", ignore_result=True)
def seal_audit_log() -> dict:
    """Beat: seal the committed audit events beyond the last checkpoint into a signed one."""
    from governance.auditlog.sealer import seal

    return seal().as_dict()

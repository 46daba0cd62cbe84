"""Celery tasks of oversight (thin: they call a service)."""

from __future__ import annotations

from celery import shared_task

from oversight import services


@shared_task(name="oversight.tasks.mark_overdue_reviews", ignore_result=True)
def mark_overdue_reviews() -> list[str]:
    """Beat: flag models whose periodic review date has passed, notify their owners."""
    return services.review_mark_overdue()



@shared_task(name="oversight.tasks.evaluate_monitoring", acks_late=True, ignore_result=True)
def evaluate_monitoring(model_name: str) -> list[int]:
    """After evidence about `model_name` changed (a job result among others): judge its new
    production results against its post-market monitoring plan; returns the crossings opened."""
    return [c.pk for c in services.monitoring_evaluate(model_name=model_name)]

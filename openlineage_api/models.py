"""What the OpenLineage adapter keeps: each run event received once, and which Gatehouse
dataset an OpenLineage (namespace, name) is."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class OpenLineageDataset(models.Model):
    """An OpenLineage dataset identity (namespace + name) and the Gatehouse dataset recording
    it. Created the first time a run reads or writes it; never re-pointed."""

    namespace = models.CharField(max_length=500)
    name = models.CharField(max_length=500)
    dataset = models.OneToOneField(
        "registry.Dataset", on_delete=models.PROTECT, related_name="openlineage_identity"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["namespace", "name"], name="openlineage_dataset_unique")
        ]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


class RunEvent(models.Model):
    """One OpenLineage run event as received. (run id, event time) is the event's identity: a
    pipeline that re-sends it gets the first answer back and nothing is written twice."""

    run_id = models.UUIDField()
    event_time = models.DateTimeField()
    event_type = models.CharField(max_length=10)
    job_namespace = models.CharField(max_length=500)
    job_name = models.CharField(max_length=500)
    producer = models.CharField(max_length=1000)
    payload_sha256 = models.CharField(max_length=64)
    # What the event did: dataset versions it recorded, model versions it matched, edges added.
    outcome = models.JSONField(default=dict)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["run_id", "event_time"], name="openlineage_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.job_namespace}/{self.job_name} run {self.run_id}"

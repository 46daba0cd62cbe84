"""Scheduled monitoring: which drift checks the beat schedule queues.

The rule: for every version in production, compare the newest uploaded version of the dataset it
was trained on (any version it was not trained on) with its training version; one job per
comparison, ever (a repeated schedule queues nothing new until new data arrives).
"""

from __future__ import annotations

import logging

from common.errors import DomainError
from explainability import services
from registry.choices import EdgeKind, Stage
from registry.models import DatasetVersion, LineageEdge, ModelVersion

log = logging.getLogger(__name__)


def drift_candidates() -> list[tuple[ModelVersion, DatasetVersion, DatasetVersion]]:
    """(production version, newest non-training data, training data) triples."""
    versions = list(
        ModelVersion.objects.filter(stage=Stage.PRODUCTION).select_related("model")
    )
    edges = LineageEdge.objects.filter(
        downstream_model__in=versions, kind=EdgeKind.TRAINED_ON
    ).select_related("upstream_dataset__dataset").order_by("id")
    trained: dict[int, list[DatasetVersion]] = {}
    for edge in edges:
        trained.setdefault(edge.downstream_model_id, []).append(edge.upstream_dataset)
    dataset_ids = {dv.dataset_id for dvs in trained.values() for dv in dvs}
    newest: dict[int, list[DatasetVersion]] = {}
    for dv in (
        DatasetVersion.objects.filter(dataset_id__in=dataset_ids, file__isnull=False)
        .select_related("dataset", "file").order_by("dataset_id", "-version")
    ):
        newest.setdefault(dv.dataset_id, []).append(dv)
    triples = []
    for version in versions:
        training = trained.get(version.pk) or []
        if not training:
            continue
        reference = training[0]
        used = {dv.pk for dv in training}
        current = next(
            (dv for dv in newest.get(reference.dataset_id, []) if dv.pk not in used), None
        )
        if current is not None and reference.file_id is not None:
            triples.append((version, current, reference))
    return triples


def queue_drift_checks() -> list[int]:
    queued = []
    for version, current, reference in drift_candidates():
        try:
            job = services.job_start_scheduled(
                version=version, dataset=current, reference_dataset=reference
            )
        except DomainError as exc:
            log.warning("scheduled drift check of %s skipped: %s", version.ref, exc.detail)
            continue
        if job is not None:
            queued.append(job.pk)
    return queued

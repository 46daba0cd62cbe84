"""Everything the compliance evaluator judges about model versions, read once for the lot.

`load(versions)` reads the evidence of any number of versions in a fixed number of queries
(lineage, documents with sections and attachments, succeeded jobs, promotions with decisions,
risk assessments, blocking findings, audit positions, the latest checkpoint, the monitoring,
incident, use restriction and exception registers);
the judges then work in Python. So a version's 60-odd obligations cost no query each, and the
inventory judges a page of models in the same handful of queries as one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch

from approvals.models import Decision, PromotionRequest
from approvals.selectors import exceptions_registers
from explainability import selectors as ex_selectors
from governance import selectors as gov_selectors
from governance.auditlog import proofs
from oversight import selectors as ov_selectors
from registry import selectors as registry_selectors

#: The audit object_type of a model version's events (registration, stage changes).
VERSION_OBJECT_TYPE = "registry.modelversion"


@dataclass
class VersionEvidence:
    """What Gatehouse holds about one version, as read by `load`."""

    version: Any
    now: dt.datetime
    datasets: dict[str, list[Any]] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)
    jobs: list[Any] = field(default_factory=list)
    promotions: list[Any] = field(default_factory=list)
    assessment: Any = None
    blocking_findings: list[Any] = field(default_factory=list)
    audit_position: int | None = None
    checkpoint: Any = None
    checkpoint_valid: bool = False
    registers: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self):
        return self.version.model


def _promotions(version_ids: list[int]) -> list[PromotionRequest]:
    return list(
        PromotionRequest.objects.filter(version_id__in=version_ids)
        .prefetch_related(Prefetch("decisions", queryset=Decision.objects.select_related("approver")))
        .order_by("-created_at", "-id")
    )


def load(versions: list, *, now: dt.datetime) -> dict[int, VersionEvidence]:
    """The evidence of each version (its `model` and the model's `owner` already joined)."""
    ids = [v.pk for v in versions]
    model_ids = sorted({v.model_id for v in versions})
    out = {v.pk: VersionEvidence(version=v, now=now) for v in versions}
    if not ids:
        return out
    for vid, found in registry_selectors.lineage_datasets(ids).items():
        out[vid].datasets = found
    for doc in ov_selectors.documents_for_versions(ids):
        out[doc.version_id].documents[doc.template_slug] = doc
    for job in ex_selectors.succeeded_jobs_for_versions(ids):
        out[job.model_version_id].jobs.append(job)
    for req in _promotions(ids):
        out[req.version_id].promotions.append(req)
    assessments = ov_selectors.risk_assessments_current(model_ids)
    findings = ov_selectors.open_blocking_findings_for_models(model_ids)
    positions = gov_selectors.audit_last_positions(VERSION_OBJECT_TYPE, ids)
    checkpoint = proofs.latest_checkpoint()
    valid = checkpoint is not None and proofs.checkpoint_signature_valid(checkpoint)
    for ev in out.values():
        v = ev.version
        ev.assessment = assessments.get(v.model_id)
        ev.blocking_findings = [
            f for f in findings if f.model_id == v.model_id and f.version_id in (None, v.pk)
        ]
        ev.audit_position = positions.get(v.pk)
        ev.checkpoint, ev.checkpoint_valid = checkpoint, valid
    _registers(out, ids, model_ids, now)
    return out


def _registers(out: dict[int, VersionEvidence], ids: list[int], model_ids: list[int],
               now: dt.datetime) -> None:
    """The registers' states, read through their selectors' bulk forms (seven queries)."""
    monitoring = ov_selectors.monitoring_register_states(model_ids)
    incidents = ov_selectors.incident_register_states(model_ids, now=now)
    restrictions = ov_selectors.use_restrictions_registers(model_ids, today=now.date())
    exceptions = exceptions_registers(ids, now=now)
    for ev in out.values():
        mid = ev.version.model_id
        ev.registers = {
            "monitoring_plan": monitoring[mid], "incidents": incidents[mid],
            "use_restrictions": restrictions[mid], "exceptions": exceptions[ev.version.pk],
        }

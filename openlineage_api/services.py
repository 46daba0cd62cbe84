"""Turning one OpenLineage run event into Gatehouse records, once.

A COMPLETE event's inputs become dataset versions (the dataset created, owned by the caller's
team, the first time its namespace + name is seen), and each output that names a registered
model version gets those inputs as `trained_on` (or `evaluated_on`) edges. Other event types are
recorded and audited but change no lineage: only a completed run proves what it read.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from governance import audit
from governance import permissions as perms
from openlineage_api import schema
from openlineage_api.models import OpenLineageDataset, RunEvent
from registry import ingest
from registry.choices import EdgeKind
from registry.models import Dataset, DatasetVersion, ModelVersion

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ROLES = {"training": EdgeKind.TRAINED_ON, "evaluation": EdgeKind.EVALUATED_ON}


def _facet() -> str:
    """The facet in which pipelines tell Gatehouse what a dataset is to it (OPENLINEAGE_FACET)."""
    return settings.OPENLINEAGE_FACET


def _canonical_sha(event: dict) -> str:
    blob = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _sha_from(facets: dict) -> str:
    """A data hash the pipeline reported: our facet's `sha256`, or a `version` facet whose
    datasetVersion is a sha256."""
    ours = facets.get(_facet()) or {}
    for value in (ours.get("sha256"), (facets.get("version") or {}).get("datasetVersion")):
        if isinstance(value, str) and _SHA256.match(value.lower()):
            return value.lower()
    return ""


def _schema_from(facets: dict) -> list[dict]:
    fields = (facets.get("schema") or {}).get("fields") or []
    return [
        {"name": str(f.get("name", "")), "type": str(f.get("type", ""))}
        for f in fields if isinstance(f, dict) and f.get("name")
    ]


def _row_count(item: dict) -> int | None:
    io_facets = item.get("inputFacets") or item.get("outputFacets") or {}
    for key in ("inputStatistics", "outputStatistics", "dataQualityMetrics"):
        value = (io_facets.get(key) or {}).get("rowCount")
        if isinstance(value, int) and value >= 0:
            return value
    return None


def _dataset_name(namespace: str, name: str) -> str:
    """A Gatehouse dataset name (a slug) for an OpenLineage identity: the name's own slug, or
    that slug with a short hash of the identity when another dataset already has it."""
    base = slugify(name.replace(".", "-").replace("/", "-"))[:80] or "dataset"
    if not Dataset.objects.filter(name=base).exists():
        return base
    digest = hashlib.sha256(f"{namespace}\n{name}".encode()).hexdigest()[:10]
    return f"{base[:80]}-{digest}"


def _dataset_for(*, actor, team, namespace: str, name: str) -> Dataset:
    known = (
        OpenLineageDataset.objects.select_related("dataset")
        .filter(namespace=namespace, name=name).first()
    )
    if known is not None:
        return known.dataset
    if team is None:
        msg = (f"The dataset {namespace}/{name} is new to Gatehouse; name the team that owns it "
               "(?team=NAME), since you belong to several.")
        raise ValidationFailed(msg, errors={"team": [msg]})
    dataset = ingest.external_dataset_register(
        actor=actor, name=_dataset_name(namespace, name), team=team,
        description=f"Reported by OpenLineage: {namespace}/{name}",
    )
    OpenLineageDataset.objects.create(namespace=namespace, name=name, dataset=dataset)
    return dataset


def _input_version(*, actor, team, item: dict) -> DatasetVersion:
    namespace, name = item["namespace"], item["name"]
    dataset = _dataset_for(actor=actor, team=team, namespace=namespace, name=name)
    facets = item.get("facets") or {}
    if perms.explain_cannot_edit_dataset(actor, dataset):
        # Another team's data: the run read what that team registered; it adds no versions.
        latest = DatasetVersion.objects.filter(
            dataset=dataset, version=dataset.latest_version
        ).first()
        if latest is None:
            raise Forbidden(
                f"The dataset {dataset.name} ({namespace}/{name}) belongs to team "
                f"{dataset.team.name} and has no version yet; only that team can record one."
            )
        return latest
    return ingest.external_dataset_version_record(
        actor=actor, dataset=dataset, uri=f"{namespace.rstrip('/')}/{name}",
        sha256=_sha_from(facets), row_count=_row_count(item), schema=_schema_from(facets),
        description="Recorded from an OpenLineage run event.",
    )


def _edge_kind(item: dict, where: str) -> str:
    role = ((item.get("inputFacets") or {}).get(_facet()) or {}).get("role", "training")
    if role not in _ROLES:
        msg = f"{where}: role {role!r} is not one of {', '.join(_ROLES)}."
        raise ValidationFailed(msg, errors={where: [msg]})
    return _ROLES[role]


def _versions_for_output(*, actor, item: dict, where: str) -> list[ModelVersion]:
    """The model versions an output is: named in our facet (model + version, or the artifact's
    sha256), or a `version` facet whose datasetVersion is a registered artifact's sha256."""
    facets = {**(item.get("facets") or {}), **(item.get("outputFacets") or {})}
    ours = facets.get(_facet()) or {}
    visible = ModelVersion.objects.select_related("model", "model__team")
    if not perms.can_read_everything(actor):
        visible = visible.filter(model__team_id__in=actor.team_ids)
    if ours.get("model"):
        try:
            number = int(ours.get("version"))
        except (TypeError, ValueError):
            msg = f"{where}: facet {_facet()}.version must be the model version number."
            raise ValidationFailed(msg, errors={where: [msg]}) from None
        found = visible.filter(model__name=ours["model"], version=number).first()
        if found is None:
            raise NotFound(f"{where} names model version {ours['model']}@{number}, "
                           "which is not registered or not visible to you.")
        return [found]
    sha = str(ours.get("artifactSha256") or (facets.get("version") or {}).get("datasetVersion") or "")
    if _SHA256.match(sha.lower()):
        return list(visible.filter(artifact_sha256=sha.lower()).order_by("model__name", "version"))
    return []


def _apply_complete(*, actor, team, event: dict, run_id: str) -> dict[str, Any]:
    inputs = []
    for index, item in enumerate(event.get("inputs") or []):
        kind = _edge_kind(item, f"/inputs/{index}")
        inputs.append((kind, _input_version(actor=actor, team=team, item=item)))
    matched, unmatched, added = [], [], []
    for index, item in enumerate(event.get("outputs") or []):
        versions = _versions_for_output(actor=actor, item=item, where=f"/outputs/{index}")
        if not versions:
            unmatched.append(f"{item['namespace']}/{item['name']}")
        for version in versions:
            matched.append(version.ref)
            edges = ingest.lineage_edges_append(
                actor=actor, version=version, datasets=inputs, source=f"openlineage run {run_id}"
            )
            added += [{"model": version.ref, "kind": e.kind, "dataset": e.upstream_dataset.ref}
                      for e in edges]
    return {
        "datasets": sorted({dv.ref for _, dv in inputs}),
        "models": matched,
        "edges_added": added,
        "unmatched_outputs": unmatched,
    }


def run_event_ingest(*, actor, event: Any, team=None) -> tuple[RunEvent, bool]:
    """Record one run event. Returns (record, created): a re-sent event (same run id and event
    time, same content) returns the first record and writes nothing; the same identity with
    other content is a conflict. A COMPLETE event writes its datasets and edges in the same
    transaction as its record, so a refused event leaves nothing behind."""
    if perms.explain_cannot_write(actor):
        raise Forbidden(perms.explain_cannot_write(actor))
    found = schema.problems(event)
    if found:
        listed = "; ".join(f"{path}: {msgs[0]}" for path, msgs in found.items())
        raise ValidationFailed(
            f"The event is not an OpenLineage RunEvent: {listed}", errors=found,
            code="schema_violation",
        )
    run_id = str(event["run"]["runId"])
    event_time = schema.parse_time(event["eventTime"])
    digest = _canonical_sha(event)
    earlier = RunEvent.objects.filter(run_id=run_id, event_time=event_time).first()
    if earlier is not None:
        return _replay(earlier, digest)
    try:
        with transaction.atomic():
            record = _record(actor=actor, team=team, event=event, run_id=run_id,
                             event_time=event_time, digest=digest)
    except IntegrityError:
        # The same event arrived twice at once: the other request wrote it; answer as a replay.
        earlier = RunEvent.objects.filter(run_id=run_id, event_time=event_time).first()
        if earlier is None:
            raise
        return _replay(earlier, digest)
    return record, True


def _replay(earlier: RunEvent, digest: str) -> tuple[RunEvent, bool]:
    if earlier.payload_sha256 != digest:
        msg = (f"Run {earlier.run_id} already has an event at {earlier.event_time.isoformat()} "
               "with other content; an event is identified by its run id and event time.")
        raise Conflict(msg, errors={"eventTime": [msg]}, code="event_conflict")
    return earlier, False


def _record(*, actor, team, event: dict, run_id: str, event_time, digest: str) -> RunEvent:
    event_type = event.get("eventType", "OTHER")
    outcome = (
        _apply_complete(actor=actor, team=team, event=event, run_id=run_id)
        if event_type == "COMPLETE" else {}
    )
    record = RunEvent.objects.create(
        run_id=run_id, event_time=event_time, event_type=event_type,
        job_namespace=event["job"]["namespace"][:500], job_name=event["job"]["name"][:500],
        producer=str(event["producer"])[:1000], payload_sha256=digest, outcome=outcome,
        received_by=actor,
    )
    audit.record(
        action="openlineage_api.runevent.received", actor=actor, target=record,
        payload={"after": {"event_type": event_type, "run_id": run_id,
                           "job": f"{record.job_namespace}/{record.job_name}",
                           "event_time": event_time.isoformat(), "payload_sha256": digest,
                           **outcome}},
    )
    return record

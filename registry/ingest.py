"""Writes for lineage that pipelines report after a version was registered (OpenLineage).

A version's own registration declares its data and parents in one transaction. A pipeline's
lineage collector (OpenLineage) may report the same facts later, from the run that produced the
model. Those reports only ever add edges: an edge is never changed or removed, so what a
registration declared stays as it was and every addition is an audit event of its own.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from common.errors import Forbidden, ValidationFailed
from governance import audit
from governance import permissions as perms
from registry.choices import DataFormat, EdgeKind
from registry.models import Dataset, DatasetVersion, LineageEdge, ModelVersion
from registry.services import _next_version_number

DATA_EDGE_KINDS = (EdgeKind.TRAINED_ON, EdgeKind.EVALUATED_ON)


def _require(refusal: str | None) -> None:
    if refusal:
        raise Forbidden(refusal)


# Not durable, like the other registry writes an adapter composes with its own records.
@transaction.atomic
def external_dataset_register(*, actor, name: str, team, description: str) -> Dataset:
    """A dataset known only from a pipeline's report: owned by the reporting caller's team."""
    _require(perms.explain_cannot_create_in_team(actor, team.pk))
    dataset = Dataset.objects.create(
        name=name, team=team, description=description, created_by=actor
    )
    audit.record(
        action="registry.dataset.registered", actor=actor, target=dataset,
        payload={"after": {"name": name, "team": team.name, "external": True,
                           "description": description}},
    )
    return dataset


@transaction.atomic
def external_dataset_version_record(
    *,
    actor,
    dataset: Dataset,
    uri: str,
    sha256: str = "",
    row_count: int | None = None,
    schema: list[dict] | None = None,
    description: str = "",
) -> DatasetVersion:
    """The dataset's current version as a pipeline saw it: the latest version when the URI,
    declared sha256, row count and schema are unchanged, otherwise the next version.

    The sha256 may be unknown (a lineage report rarely carries the data's hash); such a
    version records where the data was and what it looked like, not its bytes, so no evidence
    job can be bound to it."""
    _require(perms.explain_cannot_edit_dataset(actor, dataset))
    sha = (sha256 or "").lower()
    if sha and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
        msg = f"{sha256!r} is not a sha256 (64 hex characters)."
        raise ValidationFailed(msg, errors={"sha256": [msg]})
    schema = list(schema or [])
    # Lock the dataset row before reading its latest version, so two reports of one dataset
    # queue here instead of both creating "the next" version.
    locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
    latest = (
        DatasetVersion.objects.filter(dataset=locked, version=locked.latest_version).first()
        if locked.latest_version else None
    )
    if latest is not None and (latest.uri, latest.sha256, latest.row_count, latest.schema) == (
        uri, sha, row_count, schema
    ):
        return latest
    dv = DatasetVersion.objects.create(
        dataset=locked, version=_next_version_number(locked), uri=uri, sha256=sha,
        data_format=DataFormat.EXTERNAL, row_count=row_count, schema=schema,
        description=description, created_by=actor,
    )
    audit.record(
        action="registry.datasetversion.registered", actor=actor, target=dv,
        payload={"after": {"version": dv.version, "sha256": sha, "row_count": row_count,
                           "uri": uri, "format": DataFormat.EXTERNAL, "external": True}},
    )
    return dv


@transaction.atomic
def lineage_edges_append(
    *, actor, version: ModelVersion, datasets: list[tuple[str, DatasetVersion]], source: str
) -> list[LineageEdge]:
    """Add data edges (`trained_on` / `evaluated_on`) into `version`; edges it already has are
    left as they are. Returns the edges added (none: no event)."""
    _require(perms.explain_cannot_edit_model(actor, version.model))
    wanted: dict[tuple[str, int], DatasetVersion] = {}
    for kind, dv in datasets:
        if kind not in DATA_EDGE_KINDS:
            msg = f"{kind!r} is not a data edge; use one of {', '.join(DATA_EDGE_KINDS)}."
            raise ValidationFailed(msg, errors={"kind": [msg]})
        wanted[(kind, dv.pk)] = dv
    if not wanted:
        return []
    have = set(
        LineageEdge.objects.filter(downstream_model=version)
        .filter(Q(kind__in=DATA_EDGE_KINDS))
        .values_list("kind", "upstream_dataset_id")
    )
    new = [
        LineageEdge(kind=kind, upstream_dataset=dv, downstream_model=version)
        for (kind, pk), dv in wanted.items() if (kind, pk) not in have
    ]
    if not new:
        return []
    LineageEdge.objects.bulk_create(new)
    audit.record(
        action="registry.lineage.appended", actor=actor, target=version,
        model_name=version.model.name,
        payload={"after": {
            "edges": [{"kind": e.kind, "dataset": e.upstream_dataset.ref} for e in new],
            "source": source,
        }},
    )
    return new

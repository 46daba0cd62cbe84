"""Reads of the registry, with visibility and a bounded number of queries."""

from __future__ import annotations

import functools
import json

from django.db import connection
from django.db.models import F, Prefetch, Q, QuerySet

from common import rows as plain_rows
from common.errors import NotFound, ValidationFailed
from governance import permissions as perms
from registry import refs
from registry.choices import EdgeKind, Stage
from registry.models import (
    Artifact,
    Dataset,
    DatasetVersion,
    LineageEdge,
    ModelVersion,
    RegisteredModel,
)

MAX_LINEAGE_DEPTH = 100


def model_visibility(user) -> Q:
    """Models the user may see: everything for governance roles, their teams' models otherwise."""
    return Q() if perms.can_read_everything(user) else Q(team_id__in=user.team_ids)


def model_list_for_user(user) -> QuerySet[RegisteredModel]:
    """Models the user may see (see `model_visibility`). The version count is the model's
    `latest_version` column (versions are never deleted), not a COUNT per row."""
    return RegisteredModel.objects.select_related("team", "owner").filter(model_visibility(user))


def with_developer_names(models: list[RegisteredModel]) -> list[RegisteredModel]:
    """Set `developer_names` (sorted usernames) on each model, in one query for the lot."""
    names: dict[int, list[str]] = {m.pk: [] for m in models}
    if names:
        through = RegisteredModel.developers.through
        rows = through.objects.filter(registeredmodel_id__in=names).values_list(
            "registeredmodel_id", "user__username"
        )
        for model_id, username in rows:
            names[model_id].append(username)
    for m in models:
        m.developer_names = sorted(names[m.pk])
    return models


def model_get_for_write(user, name: str) -> RegisteredModel:
    """The model row only (no joins or prefetches), for endpoints that write under it."""
    qs = RegisteredModel.objects.all()
    if not perms.can_read_everything(user):
        qs = qs.filter(team_id__in=user.team_ids)
    model = qs.filter(name=name).first()
    if model is None:
        raise model_not_found(name)
    return model


def model_not_found(name: str) -> NotFound:
    return NotFound(f"No model named {name!r} that you can see.")


def model_get_for_user(user, name: str) -> RegisteredModel:
    model = model_list_for_user(user).filter(name=name).first()
    if model is None:
        raise NotFound(f"No model named {name!r} that you can see.")
    return model


def version_list(model: RegisteredModel) -> QuerySet[ModelVersion]:
    return (
        ModelVersion.objects.filter(model=model)
        .select_related("model", "created_by", "artifact")
        .prefetch_related(
            Prefetch(
                "upstream_edges",
                queryset=LineageEdge.objects.select_related(
                    "upstream_dataset__dataset", "upstream_model__model"
                ),
            )
        )
        .order_by("-version")
    )


def version_rows(model: RegisteredModel) -> QuerySet[ModelVersion]:
    """Versions of `model` for API pages: no edge objects (`with_lineage_refs` adds the refs), and
    through the model's related manager, so each row points at `model` instead of a copy of it."""
    return model.versions.select_related("created_by", "artifact").order_by("-version")


def with_lineage_refs(versions: list[ModelVersion]) -> list[ModelVersion]:
    """Set `lineage_refs` ({edge kind: sorted "name@version" refs}) on each version, in one
    query for the lot: names and numbers come joined from the database, no edge objects."""
    refs_by_id: dict[int, dict[str, list[str]]] = {
        v.pk: {kind: [] for kind in EdgeKind.values} for v in versions
    }
    if refs_by_id:
        rows = LineageEdge.objects.filter(downstream_model_id__in=refs_by_id).values_list(
            "downstream_model_id", "kind", "upstream_dataset__dataset__name",
            "upstream_dataset__version", "upstream_model__model__name", "upstream_model__version",
        )
        for version_id, kind, ds_name, ds_version, m_name, m_version in rows:
            ref = f"{ds_name}@{ds_version}" if ds_name is not None else f"{m_name}@{m_version}"
            refs_by_id[version_id][kind].append(ref)
    for v in versions:
        v.lineage_refs = {kind: sorted(found) for kind, found in refs_by_id[v.pk].items()}
    return versions


def lineage_datasets(version_ids: list[int]) -> dict[int, dict[str, list[DatasetVersion]]]:
    """For each version: the dataset versions it was trained and evaluated on ({edge kind:
    [DatasetVersion]}, each with its dataset), in one query for the lot."""
    found: dict[int, dict[str, list[DatasetVersion]]] = {
        pk: {EdgeKind.TRAINED_ON: [], EdgeKind.EVALUATED_ON: []} for pk in version_ids
    }
    edges = LineageEdge.objects.filter(
        downstream_model_id__in=version_ids, upstream_dataset__isnull=False
    ).select_related("upstream_dataset__dataset").order_by("id")
    for edge in edges:
        found[edge.downstream_model_id][edge.kind].append(edge.upstream_dataset)
    return found


def current_versions(model_ids: list[int]) -> dict[int, ModelVersion]:
    """Each model's current version: in production (the newest, if the policy allows several),
    else its latest. One query for the lot, with `model` and its `owner` joined."""
    found: dict[int, ModelVersion] = {}
    rows = (ModelVersion.objects.filter(model_id__in=model_ids)
            .filter(Q(stage=Stage.PRODUCTION) | Q(version=F("model__latest_version")))
            .select_related("model__owner").order_by("model_id", "-version"))
    for v in rows:
        best = found.get(v.model_id)
        if best is None or (v.stage == Stage.PRODUCTION and best.stage != Stage.PRODUCTION):
            found[v.model_id] = v
    return found


def version_for_api(user, model_name: str, version: int | str) -> ModelVersion:
    """One version as the API renders it (`VersionOutput`), in ONE statement: the version row of
    the model (found under the visibility rule of `model_get_for_write`) with its artifact's
    size, its author's name and its lineage refs. The ORM's compilation of the same reads was
    most of a GET's time. Not found either way: the message says which (from the ordinary reads).

    Everything but the version row is a scalar subquery of one table (the refs: one row per edge,
    aggregated): PostgreSQL plans each on its own, where the 9-table join they replaced (with
    lineage edges, their dataset and model versions and those models) cost it ~0.8 ms to plan
    for ~0.05 ms of execution; this one ~0.15 ms (bench/version_get_profile.py). Prepared, it is
    planned once per connection; unprepared (DB_PREPARED_STATEMENTS=0, behind a pooler) on every
    request."""
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise NotFound(f"Version {version!r} is not a number.") from None
    fields, cols = plain_rows.columns(ModelVersion, "v")
    model_where, params = "m.name = %s", [model_name]
    if not perms.can_read_everything(user):
        teams = sorted(user.team_ids) or [0]
        model_where += f" AND m.team_id IN ({', '.join(['%s'] * len(teams))})"
        params += teams
    with plain_rows.prepared_cursor() as cursor:  # planned once per connection
        cursor.execute(_version_for_api_sql(connection.vendor, cols, model_where),
                       [*params, number])
        found = cursor.fetchone()
    if found is None:  # which of the two: the ordinary reads say
        version_get(model_get_for_write(user, model_name), number)
        raise NotFound(f"Model {model_name!r} has no version {number}.")
    n = len(fields)
    result = plain_rows.instance(ModelVersion, fields, found[:n])
    size, username, edges = found[n:]
    cache = result._state.fields_cache
    # The model row matched `m.name = model_name`, so its name is the one asked for.
    cache["model"] = plain_rows.partial(RegisteredModel, id=result.model_id, name=model_name)
    if result.artifact_id:
        cache["artifact"] = plain_rows.partial(Artifact, id=result.artifact_id, size=size)
    if result.created_by_id:
        cache["created_by"] = plain_rows.partial(
            ModelVersion._meta.get_field("created_by").related_model,
            id=result.created_by_id, username=username,
        )
    refs: dict[str, list[str]] = {kind: [] for kind in EdgeKind.values}
    if isinstance(edges, str):  # SQLite's json_group_array
        edges = json.loads(edges)
    for edge in edges or ():
        kind, ref = edge.split(" ", 1)  # the kind is one word: "trained_on dataset@3"
        refs[kind].append(ref)
    result.lineage_refs = {kind: sorted(found_refs) for kind, found_refs in refs.items()}
    return result


@functools.cache
def _version_for_api_sql(vendor: str, cols: str, model_where: str) -> str:
    """The statement of `version_for_api` (cached per visibility clause: its text is the same
    for every request of a caller with as many teams). Each lineage edge is one string "kind
    name@version", aggregated as an array (PostgreSQL) or a JSON array (SQLite)."""
    user_table = ModelVersion._meta.get_field("created_by").related_model._meta.db_table
    aggregate = "json_group_array" if vendor == "sqlite" else "array_agg"
    return f"""
        SELECT {cols},
          (SELECT a.size FROM {Artifact._meta.db_table} a WHERE a.id = v.artifact_id),
          (SELECT u.username FROM {user_table} u WHERE u.id = v.created_by_id),
          (SELECT {aggregate}(e.kind || ' ' || COALESCE(
             (SELECT (SELECT d.name FROM {Dataset._meta.db_table} d WHERE d.id = dv.dataset_id)
                     || '@' || dv.version
              FROM {DatasetVersion._meta.db_table} dv WHERE dv.id = e.upstream_dataset_id),
             (SELECT (SELECT um.name FROM {RegisteredModel._meta.db_table} um
                      WHERE um.id = uv.model_id) || '@' || uv.version
              FROM {ModelVersion._meta.db_table} uv WHERE uv.id = e.upstream_model_id)))
           FROM {LineageEdge._meta.db_table} e WHERE e.downstream_model_id = v.id)
        FROM {ModelVersion._meta.db_table} v
        WHERE v.model_id = (SELECT m.id FROM {RegisteredModel._meta.db_table} m
                            WHERE {model_where})
          AND v.version = %s"""


def version_get(
    model: RegisteredModel, version: int | str, *, queryset: QuerySet[ModelVersion] | None = None
) -> ModelVersion:
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise NotFound(f"Version {version!r} is not a number.") from None
    found = (version_list(model) if queryset is None else queryset).filter(version=number).first()
    if found is None:
        raise NotFound(f"Model {model.name!r} has no version {number}.")
    return found


def dataset_list() -> QuerySet[Dataset]:
    """Datasets are visible to every signed-in user (models across teams train on them)."""
    return Dataset.objects.select_related("team")


def dataset_get(name: str) -> Dataset:
    found = dataset_list().filter(name=name).first()
    if found is None:
        raise NotFound(f"No dataset named {name!r}.")
    return found


def dataset_version_list(dataset: Dataset) -> QuerySet[DatasetVersion]:
    return DatasetVersion.objects.filter(dataset=dataset).select_related("dataset", "file")


def dataset_version_get(dataset: Dataset, version: int | str) -> DatasetVersion:
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise NotFound(f"Version {version!r} is not a number.") from None
    found = dataset_version_list(dataset).filter(version=number).first()
    if found is None:
        raise NotFound(f"Dataset {dataset.name!r} has no version {number}.")
    return found


def dataset_version_get_by_ref(ref: str, *, field: str = "dataset") -> DatasetVersion:
    name, number = refs.parse_ref(ref, field=field)
    found = DatasetVersion.objects.select_related("dataset", "file").filter(
        dataset__name=name, version=number
    ).first()
    if found is None:
        msg = f"Unknown dataset version {ref}."
        raise ValidationFailed(msg, errors={field: [msg]})
    return found


# --- lineage ------------------------------------------------------------------------------

_EDGE = LineageEdge._meta.db_table
_COLS = "e.id, e.kind, e.upstream_dataset_id, e.upstream_model_id, e.downstream_model_id"

# One recursive query per walk: the database follows the edges, not a query per hop.
_UPSTREAM_OF_MODEL = f"""
WITH RECURSIVE walk(mid, depth) AS (
    SELECT CAST(%(root)s AS BIGINT), 0
    UNION
    SELECT e.upstream_model_id, w.depth + 1 FROM {_EDGE} e JOIN walk w ON e.downstream_model_id = w.mid
    WHERE e.upstream_model_id IS NOT NULL AND w.depth + 1 < %(depth)s
)
SELECT DISTINCT {_COLS} FROM {_EDGE} e JOIN walk w ON e.downstream_model_id = w.mid
"""
_DOWNSTREAM_OF_MODEL = f"""
WITH RECURSIVE walk(mid, depth) AS (
    SELECT CAST(%(root)s AS BIGINT), 0
    UNION
    SELECT e.downstream_model_id, w.depth + 1 FROM {_EDGE} e JOIN walk w ON e.upstream_model_id = w.mid
    WHERE w.depth + 1 < %(depth)s
)
SELECT DISTINCT {_COLS} FROM {_EDGE} e JOIN walk w ON e.upstream_model_id = w.mid
"""
_DOWNSTREAM_OF_DATASET = f"""
WITH RECURSIVE walk(mid, depth) AS (
    SELECT e.downstream_model_id, 1 FROM {_EDGE} e WHERE e.upstream_dataset_id = %(root)s
    UNION
    SELECT e.downstream_model_id, w.depth + 1 FROM {_EDGE} e JOIN walk w ON e.upstream_model_id = w.mid
    WHERE w.depth + 1 <= %(depth)s
)
SELECT {_COLS} FROM {_EDGE} e WHERE e.upstream_dataset_id = %(root)s
UNION
SELECT {_COLS} FROM {_EDGE} e JOIN walk w ON e.upstream_model_id = w.mid WHERE w.depth < %(depth)s
"""


def _model_node(name: str, version: int, stage: str, team: str) -> dict:
    return {"id": f"model:{name}@{version}", "type": "model", "name": name, "version": version,
            "stage": stage, "team": team}


def _dataset_node(name: str, version: int, team: str) -> dict:
    return {"id": f"dataset:{name}@{version}", "type": "dataset", "name": name,
            "version": version, "stage": None, "team": team}


def parse_node(node: str) -> tuple[str, str, int]:
    kind, _, ref = str(node).partition(":")
    if kind not in ("model", "dataset") or not ref:
        msg = "node must look like model:NAME@V or dataset:NAME@V."
        raise ValidationFailed(msg, errors={"node": [msg]})
    name, version = refs.parse_ref(ref, field="node")
    return kind, name, version


def lineage_graph(user, *, node: str, direction: str = "upstream", depth: int = 5) -> dict:
    """Nodes and edges reachable from `node` in `direction` ("upstream", "downstream" or
    "both"), up to `depth` hops: the root, one recursive query per direction, and the nodes."""
    if direction not in ("upstream", "downstream", "both"):
        msg = "direction must be 'upstream', 'downstream' or 'both'."
        raise ValidationFailed(msg, errors={"direction": [msg]})
    if not 1 <= depth <= MAX_LINEAGE_DEPTH:
        msg = f"depth must be between 1 and {MAX_LINEAGE_DEPTH}."
        raise ValidationFailed(msg, errors={"depth": [msg]})
    kind, name, number = parse_node(node)
    if kind == "model":
        root = ModelVersion.objects.select_related("model__team").filter(
            model__name=name, version=number
        ).first()
        if root is None or not perms.can_view_model(user, root.model):
            raise NotFound(f"No model version {name}@{number} that you can see.")
        walks = {"upstream": _UPSTREAM_OF_MODEL, "downstream": _DOWNSTREAM_OF_MODEL}
        root_node = _model_node(root.model.name, root.version, root.stage, root.model.team.name)
    else:
        root = DatasetVersion.objects.select_related("dataset__team").filter(
            dataset__name=name, version=number
        ).first()
        if root is None:
            raise NotFound(f"No dataset version {name}@{number}.")
        walks = {"downstream": _DOWNSTREAM_OF_DATASET}  # nothing is upstream of data
        root_node = _dataset_node(root.dataset.name, root.version, root.dataset.team.name)
    rows: set[tuple] = set()
    for way, sql in walks.items():
        if direction in (way, "both"):
            with connection.cursor() as cur:
                cur.execute(sql, {"root": root.pk, "depth": depth})
                rows.update(cur.fetchall())
    model_ids = {r[3] for r in rows if r[3]} | {r[4] for r in rows}
    dataset_ids = {r[2] for r in rows if r[2]}
    # Only the columns a node shows (a dataset may feed thousands of versions).
    visible = perms.can_read_everything(user)
    models: dict[int, dict] = {}
    for pk, version, stage, name, team_id, team in ModelVersion.objects.filter(
        pk__in=model_ids
    ).values_list("pk", "version", "stage", "model__name", "model__team_id", "model__team__name"):
        models[pk] = _model_node(name, version, stage, team)
        if not visible and team_id not in user.team_ids:
            models[pk]["restricted"] = True
    datasets: dict[int, dict] = {}
    for pk, version, name, team in DatasetVersion.objects.filter(pk__in=dataset_ids).values_list(
        "pk", "version", "dataset__name", "dataset__team__name"
    ):
        datasets[pk] = _dataset_node(name, version, team)
    nodes = {root_node["id"]: root_node}
    nodes.update((n["id"], n) for n in (*models.values(), *datasets.values()))
    edges = [
        {"source": (datasets[up_ds] if up_ds else models[up_m])["id"],
         "target": models[down_m]["id"], "kind": ekind}
        for _, ekind, up_ds, up_m, down_m in sorted(rows)
    ]
    return {
        "root": root_node["id"], "direction": direction, "depth": depth,
        "nodes": sorted(nodes.values(), key=lambda n: n["id"]), "edges": edges,
    }


def versions_in_stage_on(user, *, stage: str, moment) -> list[ModelVersion]:
    """Versions that were in `stage` at `moment`, replayed from the audit record of stage
    changes (not today's rows), limited to models the user may see. Two queries.

    Each version gets `stage_since`: when it entered the stage."""
    from governance.models import AuditEvent

    last: dict[str, tuple[str | None, object]] = {}
    events = (
        AuditEvent.objects.filter(
            action="registry.version.stage_changed",
            object_type="registry.modelversion",
            timestamp__lte=moment,
        )
        .order_by("seq")
        .values_list("object_id", "payload", "timestamp")
    )
    for object_id, payload, timestamp in events.iterator():
        last[object_id] = ((payload.get("after") or {}).get("stage"), timestamp)
    since = {int(oid): ts for oid, (st, ts) in last.items() if st == stage and oid.isdigit()}
    qs = ModelVersion.objects.filter(pk__in=since).select_related("model__team", "model__owner")
    if not perms.can_read_everything(user):
        qs = qs.filter(model__team_id__in=user.team_ids)
    found = sorted(qs, key=lambda v: (v.model.name, v.version))
    for version in found:
        version.stage_since = since[version.pk]
    return found

"""Every write to the registry. Each public service runs in one transaction and records its
audit event in it: a version, its lineage edges and its event are written together or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, BinaryIO

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from common import events
from common import rows as plain_rows
from common.errors import Conflict, Forbidden, ValidationFailed
from governance import audit
from governance import permissions as perms
from governance.choices import EuAiActClass
from registry import events as registry_events
from registry import refs, storage, uris
from registry.choices import ArtifactFormat, DataFormat, EdgeKind, Stage, VersionKind
from registry.models import (
    Artifact,
    Dataset,
    DatasetVersion,
    LineageEdge,
    ModelVersion,
    RegisteredModel,
)

MODEL_EDITABLE_FIELDS = (
    "title", "description", "business_use_case", "intended_use", "limitations", "tags",
)
VERSION_EDITABLE_FIELDS = ("description", "tags")


def _require(refusal: str | None) -> None:
    if refusal:
        raise Forbidden(refusal)


def _user_ids_by_username(usernames: list[str], field: str) -> list:
    from governance.models import User

    users = list(User.objects.filter(username__in=usernames))
    missing = sorted(set(usernames) - {u.username for u in users})
    if missing:
        msg = f"Unknown user(s): {', '.join(missing)}."
        raise ValidationFailed(msg, errors={field: [msg]})
    return users


# --- models -------------------------------------------------------------------------------


# Not durable: an adapter (the MLflow API) may compose it with its own writes in one transaction.
@transaction.atomic
def model_register(
    *,
    actor,
    name: str,
    team,
    title: str = "",
    description: str = "",
    owner: str | None = None,
    developers: list[str] | None = None,
    business_use_case: str = "",
    intended_use: str = "",
    limitations: str = "",
    tags: list[str] | None = None,
) -> RegisteredModel:
    """Register a model owned by `team`; only its members (and admins) may."""
    _require(perms.explain_cannot_create_in_team(actor, team.pk))
    if RegisteredModel.objects.filter(name=name).exists():
        msg = f"A model named {name!r} already exists."
        raise Conflict(msg, errors={"name": [msg]}, code="already_exists")
    owner_user = _user_ids_by_username([owner], "owner")[0] if owner else actor
    dev_users = _user_ids_by_username(developers or [], "developers")
    model = RegisteredModel.objects.create(
        name=name, title=title or name, description=description, team=team, owner=owner_user,
        business_use_case=business_use_case, intended_use=intended_use, limitations=limitations,
        tags=sorted(set(tags or [])), created_by=actor,
    )
    model.developers.set(dev_users)
    audit.record(
        action="registry.model.registered", actor=actor, target=model, model_name=model.name,
        payload={
            "after": {
                "name": name, "team": team.name, "owner": owner_user.username,
                "developers": sorted(u.username for u in dev_users), "tags": model.tags,
            }
        },
    )
    return model


@transaction.atomic(durable=True)
def model_update(*, actor, model: RegisteredModel, changes: dict[str, Any]) -> RegisteredModel:
    """Edit a model's descriptive fields, owner and developers (owning team and admins only)."""
    _require(perms.explain_cannot_edit_model(actor, model))
    model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for field in MODEL_EDITABLE_FIELDS:
        if field in changes:
            value = sorted(set(changes[field])) if field == "tags" else changes[field]
            if getattr(model, field) != value:
                before[field], after[field] = getattr(model, field), value
                setattr(model, field, value)
    if "owner" in changes:
        new_owner = _user_ids_by_username([changes["owner"]], "owner")[0]
        if new_owner.pk != model.owner_id:
            before["owner"] = model.owner.username if model.owner_id else None
            after["owner"] = new_owner.username
            model.owner = new_owner
    if "developers" in changes:
        devs = _user_ids_by_username(changes["developers"], "developers")
        old = sorted(model.developers.values_list("username", flat=True))
        new = sorted(u.username for u in devs)
        if old != new:
            before["developers"], after["developers"] = old, new
            model.developers.set(devs)
    if not after:
        return model
    # Only the edited columns: never write back a number registration hands out concurrently.
    model.save(update_fields=[f for f in after if f != "developers"] + ["updated_at"])
    audit.record(
        action="registry.model.updated", actor=actor, target=model, model_name=model.name,
        payload={"before": before, "after": after},
    )
    return model


def _records_naming(model: RegisteredModel) -> list[str]:
    """What outside the registry keeps a record of `model` or its versions (promotion requests,
    risk assessments, findings, reviews, documents, jobs), by verbose name. Found through the
    relations that PROTECT the registry rows (the apps above declare them), so the registry
    needs no import of the apps that record about it; rows that merely follow the model
    (CASCADE: MLflow tags and aliases) are not records."""
    found: list[str] = []
    for owner, lookup in ((RegisteredModel, {"pk": model.pk}), (ModelVersion, {"model_id": model.pk})):
        for rel in owner._meta.related_objects:
            related = rel.related_model
            if related._meta.app_label == "registry" or rel.on_delete.__name__ != "PROTECT":
                continue
            filters = {f"{rel.field.name}__{k}": v for k, v in lookup.items()}
            if related._default_manager.filter(**filters).exists():
                found.append(str(related._meta.verbose_name_plural))
    return sorted(set(found))


@transaction.atomic(durable=True)
def model_rename(*, actor, model: RegisteredModel, new_name: str) -> RegisteredModel:
    """Rename a model that has no governance history yet (owning team and admins). Once another
    app keeps a record about it or a version has changed stage, its name is what the audit
    trail and those records refer to, so it stays; register a new model instead."""
    _require(perms.explain_cannot_edit_model(actor, model))
    model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    if new_name == model.name:
        return model
    if RegisteredModel.objects.filter(name=new_name).exists():
        msg = f"A model named {new_name!r} already exists."
        raise Conflict(msg, errors={"name": [msg]}, code="already_exists")
    records = _records_naming(model)
    if ModelVersion.objects.filter(model=model, stage_changed_at__isnull=False).exists():
        records.append("stage changes")
    if records:
        raise Forbidden(
            f"{model.name} has governance history in Gatehouse ({', '.join(records)}); its name "
            "is part of that record and cannot change. Register a new model under the new name "
            "instead.",
            code="name_frozen",
        )
    old = model.name
    model.name = new_name
    model.save(update_fields=["name", "updated_at"])
    audit.record(
        action="registry.model.renamed", actor=actor, target=model, model_name=new_name,
        payload={"before": {"name": old}, "after": {"name": new_name}},
    )
    return model


@transaction.atomic(durable=True)
def model_delete(*, actor, model: RegisteredModel) -> None:
    """Delete an empty model (owning team and admins): no versions and no governance records.
    Registered versions are the audit record and are never deleted, so a model that has one
    stays; its versions are archived instead."""
    _require(perms.explain_cannot_edit_model(actor, model))
    model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    if model.latest_version:
        raise Forbidden(
            f"{model.name} has {model.latest_version} registered version(s). Gatehouse keeps every "
            "registered version for the audit record, so the model cannot be deleted; archive its "
            "versions instead (transition them to Archived).",
            code="has_versions",
        )
    records = _records_naming(model)
    if records:
        raise Forbidden(
            f"{model.name} has governance records ({', '.join(records)}) and is kept for the audit "
            "record; it cannot be deleted.",
            code="has_records",
        )
    name, pk, team = model.name, model.pk, model.team.name
    model.delete()  # its MLflow tags and aliases go with it (CASCADE)
    audit.record(
        action="registry.model.deleted", actor=actor, object_type="registry.registeredmodel",
        object_id=pk, object_repr=name, model_name=name,
        payload={"before": {"name": name, "team": team}},
    )


# --- artifacts ----------------------------------------------------------------------------


def _store_artifact(
    upload: BinaryIO, *, filename: str, artifact_format: str, declared_sha: str
) -> Artifact:
    """Stream, hash and check an upload; keep it only if it is safe and matches its sha256."""
    staged = storage.stage_upload(upload)
    sha, size = staged.sha256, staged.size
    try:
        storage.check_model_file(staged.path, filename=filename, artifact_format=artifact_format)
        if declared_sha and declared_sha != sha:
            msg = (
                f"The declared artifact_sha256 {declared_sha} does not match the uploaded file "
                f"({sha})."
            )
            raise ValidationFailed(msg, errors={"artifact_sha256": [msg]}, code="sha256_mismatch")
    except BaseException:
        staged.discard()
        raise
    rel = storage.keep(staged)
    artifact, _ = Artifact.objects.get_or_create(
        sha256=sha, defaults={"size": size, "storage_path": rel, "original_name": filename[:255]}
    )
    return artifact


def infer_artifact_format(filename: str, declared: str) -> str:
    lower = filename.lower()
    if lower.endswith(storage.PICKLE_EXTENSIONS):
        raise ValidationFailed(storage.REFUSAL, errors={"artifact": [storage.REFUSAL]}, code="unsafe_artifact")
    fmt = declared or storage.format_from_name(lower)
    if fmt not in ArtifactFormat.values:
        msg = (
            "artifact_format must be 'skops', 'onnx' or 'xgboost' (or upload a .skops, .onnx, or "
            "XGBoost .json / .ubj model file)."
        )
        raise ValidationFailed(msg, errors={"artifact_format": [msg]})
    return fmt


# --- versions -----------------------------------------------------------------------------


def _next_version_number(parent: RegisteredModel | Dataset) -> int:
    """Hand out the next version number of a model or dataset. The UPDATE takes the parent's row
    lock until the transaction ends, so concurrent registrations queue here for distinct numbers
    (the unique constraint on (parent, version) stays the last line of defence)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {parent._meta.db_table} SET latest_version = latest_version + 1 "
            "WHERE id = %s RETURNING latest_version",
            [parent.pk],
        )
        parent.latest_version = cursor.fetchone()[0]
    return parent.latest_version


def _claim_next_version(actor, model_name: str) -> RegisteredModel:
    """The model `actor` can see by that name, with its next version number handed out, in ONE
    statement: the numbering UPDATE (and its row lock, see `_next_version_number`) finds the row by
    name under the same visibility rule as `selectors.model_get_for_write` and returns it. Saves
    the registration hot path the separate model SELECT. No row: not found (or not visible)."""
    from registry.selectors import model_not_found

    where, params = ["name = %s"], [model_name]
    if not perms.can_read_everything(actor):
        teams = sorted(actor.team_ids)
        if not teams:
            raise model_not_found(model_name)
        where.append(f"team_id IN ({', '.join(['%s'] * len(teams))})")
        params += teams
    fields, cols = plain_rows.columns(RegisteredModel)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {RegisteredModel._meta.db_table} SET latest_version = latest_version + 1 "
            f"WHERE {' AND '.join(where)} RETURNING {cols}",
            params,
        )
        row = cursor.fetchone()
    if row is None:
        raise model_not_found(model_name)
    return plain_rows.instance(RegisteredModel, fields, row)


def model_version_register(**fields) -> ModelVersion:
    """Register the next version of a model (the arguments and rules: `_register_in_transaction`).

    A registration by model name with an external artifact and no references, outside any
    transaction, on PostgreSQL (what a pipeline's `POST .../versions/` is) runs as ONE statement
    in autocommit (`_register_in_one_statement`): the numbering UPDATE, the version INSERT and the
    audit INSERT together, atomic as any single statement is, three round trips to the database
    fewer than BEGIN + three statements + COMMIT. Anything else, or any doubt (no such model for
    this user, a value to refuse), takes the ordinary path, which says what is wrong.
    """
    if _one_statement_applies(fields):
        version = _register_in_one_statement(**fields)
        if version is not None:
            return version
    return _register_in_transaction(**fields)


def _one_statement_applies(fields: dict[str, Any]) -> bool:
    return (
        connection.vendor == "postgresql" and not connection.in_atomic_block
        and fields.get("model") is None and fields.get("artifact_file") is None
        and bool(fields.get("model_name")) and bool(fields.get("artifact_uri"))
        and fields.get("kind", VersionKind.ARTIFACT) == VersionKind.ARTIFACT
        and not fields.get("training_datasets") and not fields.get("evaluation_datasets")
        and not fields.get("parents") and fields.get("on_registered") is None
    )


def _register_in_one_statement(
    *, actor, model_name: str, artifact_uri: str, artifact_sha256: str = "",
    artifact_format: str = "", kind: str = VersionKind.ARTIFACT, vendor: dict | None = None,
    framework: str = "", framework_version: str = "", code_repository: str = "",
    code_commit: str = "", hyperparameters: dict | None = None, metrics: dict | None = None,
    environment: dict | None = None, signature: dict | None = None, description: str = "",
    tags: list[str] | None = None, provenance: dict | None = None, **_none,
) -> ModelVersion | None:
    """The registration as one data-modifying statement (PostgreSQL):

        WITH m AS (UPDATE model SET latest_version = latest_version + 1
                   WHERE name = ... AND team_id IN (the actor's teams) RETURNING ...),
             v AS (INSERT INTO version (model_id, version, ...) SELECT m.id, m.latest_version, ...
                   FROM m RETURNING id, version),
             a AS (INSERT INTO audit event ... FROM v, LATERAL nextval(position) RETURNING ...)
        SELECT m.*, v.id, a.id, a.seq FROM m, v, a

    The same rows as `_register_in_transaction` writes (the audit event's canonical body is
    spliced around the new id and number: `audit.Spliced`), the model's row lock ordering
    concurrent registrations the same way. None (nothing written) when the ordinary path must
    answer: the actor may not write, the model is not found among the teams the actor may
    register in, or a value is refused."""
    if perms.explain_cannot_write(actor):
        return None
    where, params = ["name = %s"], [model_name]
    if not perms.is_admin(actor):
        teams = sorted(actor.team_ids)
        if not teams:
            return None
        where.append(f"team_id IN ({', '.join(['%s'] * len(teams))})")
        params += teams
    try:
        artifact_uri = uris.check_external_uri(artifact_uri, field="artifact_uri")
        fmt = infer_artifact_format(artifact_uri, artifact_format)
    except ValidationFailed:
        return None
    declared_sha = (artifact_sha256 or "").lower()
    if not _is_sha256(declared_sha):
        return None
    version = _new_version(
        actor=actor, kind=kind, artifact=None, artifact_uri=artifact_uri,
        artifact_sha256=declared_sha, artifact_format=fmt, vendor=vendor, framework=framework,
        framework_version=framework_version, code_repository=code_repository,
        code_commit=code_commit, hyperparameters=hyperparameters, metrics=metrics,
        environment=environment, signature=signature, description=description, tags=tags,
        provenance=provenance,
    )
    conn = connections[DEFAULT_DB_ALIAS]
    written = [f for f in ModelVersion._meta.concrete_fields if f.name not in ("id", "model", "version")]
    values = [f.get_db_prep_save(f.pre_save(version, add=True), conn) for f in written]
    event = audit.Spliced(action="registry.version.registered", actor=actor,
                          target_model=ModelVersion, model_name=model_name)
    version_id = event.token("v.id", number=False)
    number_text = event.token("v.version", number=False)
    number = event.token("v.version", number=True)
    event.describe(
        object_id=version_id, object_repr=f"{model_name}@{number_text}",
        payload=_registered_payload(version, number=number, training=[], evaluation=[],
                                    parents=[]),
    )
    audit_sql, audit_params = event.sql("v")
    model_fields, returned = plain_rows.columns(RegisteredModel)
    _, selected = plain_rows.columns(RegisteredModel, "m")
    quote = connection.ops.quote_name
    sql = (
        f"WITH m AS (UPDATE {RegisteredModel._meta.db_table} "
        f"SET latest_version = latest_version + 1 WHERE {' AND '.join(where)} RETURNING {returned}), "
        f"v AS (INSERT INTO {ModelVersion._meta.db_table} "
        f"({quote('model_id')}, {quote('version')}, {', '.join(quote(f.column) for f in written)}) "
        f"SELECT m.id, m.latest_version, {', '.join(['%s'] * len(written))} FROM m "
        "RETURNING id, version), "
        f"a AS ({audit_sql}) "
        f"SELECT {selected}, v.id, a.id, a.seq FROM m, v, a"
    )
    with plain_rows.prepared_cursor() as cursor:
        cursor.execute(sql, [*params, *values, *audit_params])
        row = cursor.fetchone()
    if row is None:
        return None
    n = len(model_fields)
    model = plain_rows.instance(RegisteredModel, model_fields, row[:n])
    pk, event_pk, seq = row[n:]
    version.pk, version.model, version.version = pk, model, model.latest_version
    version._state.adding, version._state.db = False, connection.alias
    version.lineage_refs = {"trained_on": [], "evaluated_on": [], "derived_from": []}
    event.written(connection, event_pk, seq, {
        version_id: str(pk), number_text: str(version.version), number: str(version.version),
    })
    return version


# Not durable: an adapter may call it inside its own transaction (a savepoint then); the hot
# MLflow path instead passes `on_registered`, so its rows join this transaction without one.
@transaction.atomic
def _register_in_transaction(
    *,
    actor,
    model: RegisteredModel | None = None,
    model_name: str = "",
    artifact_file: BinaryIO | None = None,
    artifact_filename: str = "",
    artifact_uri: str = "",
    artifact_sha256: str = "",
    artifact_format: str = "",
    kind: str = VersionKind.ARTIFACT,
    vendor: dict | None = None,
    framework: str = "",
    framework_version: str = "",
    code_repository: str = "",
    code_commit: str = "",
    hyperparameters: dict | None = None,
    metrics: dict | None = None,
    environment: dict | None = None,
    signature: dict | None = None,
    training_datasets: list[str] | None = None,
    evaluation_datasets: list[str] | None = None,
    parents: list[str] | None = None,
    description: str = "",
    tags: list[str] | None = None,
    provenance: dict | None = None,
    on_registered: Callable[[ModelVersion], object] | None = None,
) -> ModelVersion:
    """Register the next version of `model` with its artifact and lineage, in one transaction.
    `on_registered(version)` runs in that transaction once the version is written: an adapter's
    own rows about it (the MLflow API's tags) commit or fail with it.

    The version number is handed out under the model's row lock (`_next_version_number`), so
    concurrent registrations get distinct numbers. Unknown references fail the whole registration; nothing is written.

    Give `model`, or `model_name` for a registration without an uploaded file: the model is then
    found and numbered by one statement at the start (`_claim_next_version`; not found -> 404).
    An upload keeps the lock short: the model is passed in and numbered once the file is stored.
    """
    number = None
    if model is None:
        if artifact_file is not None:
            raise ValueError("an upload is registered under a model read beforehand (model=)")
        model = _claim_next_version(actor, model_name)
        number = model.latest_version
    _require(perms.explain_cannot_edit_model(actor, model))
    # References are checked before the artifact is stored, so a bad one keeps nothing.
    found = refs.resolve(
        refs.RefGroup(DatasetVersion, "dataset", "dataset version", {
            "training_datasets": training_datasets or [],
            "evaluation_datasets": evaluation_datasets or [],
        }),
        refs.RefGroup(ModelVersion, "model", "model version", {"parents": parents or []}),
    )
    train, evals = found["training_datasets"], found["evaluation_datasets"]
    parent_versions = found["parents"]
    if artifact_uri:  # checked before anything is stored (registry.uris: the one URI rule)
        artifact_uri = uris.check_external_uri(artifact_uri, field="artifact_uri")

    artifact = None
    declared_sha = (artifact_sha256 or "").lower()
    if kind == VersionKind.VENDOR:
        if artifact_file is not None or artifact_uri:
            msg = "A vendor version has no artifact; omit artifact and artifact_uri."
            raise ValidationFailed(msg, errors={"kind": [msg]})
        if not (vendor or {}).get("name"):
            msg = "A vendor version needs vendor.name (and ideally product, version, contract)."
            raise ValidationFailed(msg, errors={"vendor": [msg]})
        fmt = ""
    elif artifact_file is not None:
        fmt = infer_artifact_format(artifact_filename, artifact_format)
        artifact = _store_artifact(
            artifact_file, filename=artifact_filename, artifact_format=fmt, declared_sha=declared_sha
        )
        declared_sha = artifact.sha256
    elif artifact_uri:
        fmt = infer_artifact_format(artifact_uri, artifact_format)
        if not _is_sha256(declared_sha):
            msg = "An external artifact_uri needs its artifact_sha256 (64 hex characters)."
            raise ValidationFailed(msg, errors={"artifact_sha256": [msg]})
    else:
        msg = "Upload an artifact file, or give artifact_uri with artifact_sha256."
        raise ValidationFailed(msg, errors={"artifact": [msg]})

    if number is None:
        number = _next_version_number(model)
    version = _new_version(
        actor=actor, kind=kind, artifact=artifact, artifact_uri=artifact_uri,
        artifact_sha256=declared_sha, artifact_format=fmt, vendor=vendor, framework=framework,
        framework_version=framework_version, code_repository=code_repository,
        code_commit=code_commit, hyperparameters=hyperparameters, metrics=metrics,
        environment=environment, signature=signature, description=description, tags=tags,
        provenance=provenance,
    )
    version.model, version.version = model, number
    version.save(force_insert=True)
    edges = (
        [LineageEdge(kind=EdgeKind.TRAINED_ON, upstream_dataset_id=d.pk, downstream_model=version) for d in train]
        + [LineageEdge(kind=EdgeKind.EVALUATED_ON, upstream_dataset_id=d.pk, downstream_model=version) for d in evals]
        + [LineageEdge(kind=EdgeKind.DERIVED_FROM, upstream_model_id=p.pk, downstream_model=version) for p in parent_versions]
    )
    LineageEdge.objects.bulk_create(edges)
    if on_registered is not None:
        on_registered(version)
    # The caller answers from what was written rather than reading it back.
    version.lineage_refs = {
        "trained_on": sorted(d.ref for d in train),
        "evaluated_on": sorted(d.ref for d in evals),
        "derived_from": sorted(p.ref for p in parent_versions),
    }
    audit.record(
        action="registry.version.registered", actor=actor, target=version, model_name=model.name,
        payload=_registered_payload(
            version, number=version.version, training=[d.ref for d in train],
            evaluation=[d.ref for d in evals], parents=[p.ref for p in parent_versions],
        ),
    )
    return version


def _new_version(
    *, actor, kind: str, artifact, artifact_uri: str, artifact_sha256: str, artifact_format: str,
    vendor: dict | None, framework: str, framework_version: str, code_repository: str,
    code_commit: str, hyperparameters: dict | None, metrics: dict | None,
    environment: dict | None, signature: dict | None, description: str,
    tags: list[str] | None, provenance: dict | None,
) -> ModelVersion:
    """The version row both registration paths write (its model and number set by each)."""
    return ModelVersion(
        kind=kind, artifact=artifact, artifact_uri=artifact_uri, artifact_sha256=artifact_sha256,
        artifact_format=artifact_format, vendor=vendor or {}, framework=framework,
        framework_version=framework_version, code_repository=code_repository,
        code_commit=code_commit, hyperparameters=hyperparameters or {}, metrics=metrics or {},
        environment=environment or {}, signature=signature or {}, description=description,
        tags=sorted(set(tags or [])), provenance=provenance or {}, created_by=actor,
    )


def _registered_payload(version: ModelVersion, *, number, training: list[str],
                        evaluation: list[str], parents: list[str]) -> dict[str, Any]:
    """The `registry.version.registered` event's payload (`number`: the version's, or the
    one-statement path's stand-in for it)."""
    return {"after": {
        "version": number, "kind": version.kind, "artifact_sha256": version.artifact_sha256,
        "artifact_format": version.artifact_format, "artifact_uri": version.artifact_uri,
        "training_datasets": training, "evaluation_datasets": evaluation, "parents": parents,
        "code_commit": version.code_commit,
        **({"provenance": version.provenance} if version.provenance else {}),
    }}


def _is_sha256(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


@transaction.atomic(durable=True)
def model_version_update(*, actor, version: ModelVersion, changes: dict[str, Any]) -> ModelVersion:
    """Only description and tags may change; artifact, sha256 and lineage never do."""
    _require(perms.explain_cannot_edit_model(actor, version.model))
    frozen = sorted(set(changes) - set(VERSION_EDITABLE_FIELDS))
    if frozen:
        msg = (
            f"{', '.join(frozen)} cannot change after registration; only description and tags "
            "may. Register a new version instead."
        )
        raise ValidationFailed(msg, errors={f: ["immutable after registration"] for f in frozen})
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    before, after = {}, {}
    for field in VERSION_EDITABLE_FIELDS:
        if field in changes:
            value = sorted(set(changes[field])) if field == "tags" else changes[field]
            if getattr(version, field) != value:
                before[field], after[field] = getattr(version, field), value
                setattr(version, field, value)
    if after:
        version.save(update_fields=list(after))
        audit.record(
            action="registry.version.updated", actor=actor, target=version,
            model_name=version.model.name, payload={"before": before, "after": after},
        )
    return version


def set_stage(
    *,
    version: ModelVersion,
    stage: str,
    actor,
    reason: str,
    cause: dict | None = None,
    exclusive_production: bool = True,
) -> ModelVersion:
    """Move a version to `stage`. Only the approvals app calls this, inside its own transaction
    (an executed promotion request or an audited emergency rollback). A second exclusive
    production version of one model is refused by the database."""
    if stage not in Stage.values:
        raise ValidationFailed(f"Unknown stage {stage!r}.")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("set_stage must run inside the caller's transaction.")
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    before = version.stage
    if before == stage:
        return version
    version.stage = stage
    version.stage_changed_at = timezone.now()
    version.exclusive_production = exclusive_production
    version.save(update_fields=["stage", "stage_changed_at", "exclusive_production"])
    audit.record(
        action="registry.version.stage_changed", actor=actor, target=version,
        model_name=version.model.name,
        payload={"before": {"stage": before}, "after": {"stage": stage}, "reason": reason, **(cause or {})},
    )
    if stage == Stage.PRODUCTION:
        events.publish(registry_events.VERSION_IN_PRODUCTION, key=str(version.pk))
    return version


# --- fields other layers decide -----------------------------------------------------------
# The registry writes these columns, but the decision is another layer's: the caller records the
# change in its own audit event (a risk assessment, a scheduled review), with the values these
# return as `before`. One change, one event.


def model_risk_classify(
    *, model: RegisteredModel, risk_tier: int, eu_ai_act_class: str
) -> dict[str, Any]:
    """Set the model's risk tier and EU AI Act class (oversight calls this when a risk
    assessment is made or overridden). Runs inside the caller's transaction, which has locked the
    model row; writes only these columns (and updated_at). Returns the values before."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("model_risk_classify must run inside the caller's transaction.")
    if risk_tier not in (1, 2, 3):
        raise ValidationFailed("tier must be 1, 2 or 3.", errors={"risk_tier": ["Must be 1, 2 or 3."]})
    if eu_ai_act_class not in EuAiActClass.values:
        msg = f"Unknown EU AI Act class {eu_ai_act_class!r}."
        raise ValidationFailed(msg, errors={"eu_ai_act_class": [msg]})
    before = {"risk_tier": model.risk_tier, "eu_ai_act_class": model.eu_ai_act_class}
    model.risk_tier, model.eu_ai_act_class = risk_tier, eu_ai_act_class
    model.save(update_fields=["risk_tier", "eu_ai_act_class", "updated_at"])
    return before


def model_review_schedule(*, model: RegisteredModel, next_review_date: dt.date) -> dt.date | None:
    """Set the date of the model's next periodic review (oversight calls this when a promotion to
    production executes). Runs inside the caller's transaction; writes only that column (and
    updated_at), and nothing when the date is unchanged. Returns the date before."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("model_review_schedule must run inside the caller's transaction.")
    before = model.next_review_date
    if before != next_review_date:
        model.next_review_date = next_review_date
        model.save(update_fields=["next_review_date", "updated_at"])
    return before


# --- datasets -----------------------------------------------------------------------------


@transaction.atomic(durable=True)
def dataset_register(
    *,
    actor,
    name: str,
    team,
    description: str = "",
    contains_personal_data: bool = False,
    sensitive_attributes: list[str] | None = None,
) -> Dataset:
    _require(perms.explain_cannot_create_in_team(actor, team.pk))
    if Dataset.objects.filter(name=name).exists():
        msg = f"A dataset named {name!r} already exists."
        raise Conflict(msg, errors={"name": [msg]}, code="already_exists")
    dataset = Dataset.objects.create(
        name=name, team=team, description=description,
        contains_personal_data=contains_personal_data,
        sensitive_attributes=list(dict.fromkeys(sensitive_attributes or [])), created_by=actor,
    )
    audit.record(
        action="registry.dataset.registered", actor=actor, target=dataset,
        payload={"after": {"name": name, "team": team.name,
                           "contains_personal_data": contains_personal_data,
                           "sensitive_attributes": dataset.sensitive_attributes}},
    )
    return dataset


def _profile_table(path, data_format: str) -> tuple[int, list[dict]]:
    """Row count and column schema of an uploaded CSV/Parquet file."""
    import pandas as pd
    import pyarrow.parquet as pq

    if data_format == "parquet":
        meta = pq.ParquetFile(path)
        schema = [{"name": f.name, "type": str(f.type)} for f in meta.schema_arrow]
        return meta.metadata.num_rows, schema
    try:
        head = pd.read_csv(path, nrows=1000)
    except Exception as exc:  # noqa: BLE001 - any parse error is the user's file
        msg = f"The CSV file could not be read: {exc}"
        raise ValidationFailed(msg, errors={"file": [msg]}) from exc
    with open(path, "rb") as fh:
        rows = max(sum(1 for _ in fh) - 1, 0)
    return rows, [{"name": str(c), "type": str(t)} for c, t in head.dtypes.items()]


@transaction.atomic(durable=True)
def dataset_version_register(
    *,
    actor,
    dataset: Dataset,
    file: BinaryIO | None = None,
    filename: str = "",
    uri: str = "",
    sha256: str = "",
    row_count: int | None = None,
    schema: list | None = None,
    window_start: dt.datetime | None = None,
    window_end: dt.datetime | None = None,
    description: str = "",
) -> DatasetVersion:
    """Register the next version of a dataset: an uploaded CSV/Parquet file (profiled for row
    count and schema) or an external URI with its declared sha256."""
    _require(perms.explain_cannot_edit_dataset(actor, dataset))
    if window_start and window_end and window_start > window_end:
        msg = "window_start must not be after window_end."
        raise ValidationFailed(msg, errors={"window_start": [msg]})
    if uri:  # checked before anything is stored (registry.uris: the one URI rule)
        uri = uris.check_external_uri(uri, field="uri")
    stored = None
    data_format = DataFormat.EXTERNAL
    declared = (sha256 or "").lower()
    if file is not None:
        staged = storage.stage_upload(file)
        tmp, sha, size = staged.path, staged.sha256, staged.size
        try:
            data_format = storage.check_data_file(tmp, filename=filename)
            if declared and declared != sha:
                msg = f"The declared sha256 {declared} does not match the uploaded file ({sha})."
                raise ValidationFailed(msg, errors={"sha256": [msg]}, code="sha256_mismatch")
            counted, profiled = _profile_table(tmp, data_format)
        except BaseException:
            staged.discard()
            raise
        rel = storage.keep(staged)
        stored, _ = Artifact.objects.get_or_create(
            sha256=sha, defaults={"size": size, "storage_path": rel, "original_name": filename[:255]}
        )
        declared, row_count, schema = sha, counted, schema or profiled
    elif not uri:
        msg = "Upload a CSV/Parquet file, or give the uri of the data with its sha256."
        raise ValidationFailed(msg, errors={"file": [msg]})
    elif len(declared) != 64:
        msg = "An external uri needs its sha256 (64 hex characters)."
        raise ValidationFailed(msg, errors={"sha256": [msg]})

    dv = DatasetVersion.objects.create(
        dataset=dataset, version=_next_version_number(dataset), uri=uri, sha256=declared, file=stored,
        data_format=data_format, row_count=row_count, schema=schema or [],
        window_start=window_start, window_end=window_end, description=description,
        created_by=actor,
    )
    audit.record(
        action="registry.datasetversion.registered", actor=actor, target=dv,
        payload={"after": {"version": dv.version, "sha256": declared, "row_count": row_count,
                           "uri": uri, "format": data_format}},
    )
    return dv

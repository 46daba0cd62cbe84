"""Every write the MLflow API makes. Registry rows are written through `registry.services`
(registration, rename, deletion); stage moves go through `approvals.services` (archiving, and a
promotion request for Staging/Production); MLflow tags and aliases are this app's own rows.
Each state change records one audit event in its transaction.

A version created with tags is one transaction and one audit event: the registration event
names the tags (its provenance), and the tag rows are written with the version.
"""

from __future__ import annotations

import re
from typing import NoReturn

from django.conf import settings
from django.db import transaction
from django.urls import NoReverseMatch, reverse

from approvals import selectors as approvals_selectors
from approvals import services as approvals_services
from approvals.choices import LIVE_STATES, DecisionKind
from approvals.models import PromotionRequest
from common.errors import Conflict, Forbidden, ValidationFailed
from governance import audit
from governance import permissions as perms
from governance.models import Team
from mlflow_api import protocol, sources
from mlflow_api.models import ModelAlias, ModelTag, VersionTag
from registry import services as registry_services
from registry import storage
from registry.choices import Stage
from registry.models import ModelVersion, RegisteredModel

NAME_RE = re.compile(r"^[-a-zA-Z0-9_]{1,100}$")
ALIAS_RE = re.compile(r"^[\w\-]{1,255}$")
MAX_TAG_KEY = 250
MAX_TAG_VALUE = 8000

TEAM_TAG = "gatehouse.team"
SHA_TAG = "gatehouse.artifact_sha256"
FORMAT_TAG = "gatehouse.artifact_format"


def _require(refusal: str | None) -> None:
    if refusal:
        raise Forbidden(refusal)


def check_name(name: str, field: str = "name") -> str:
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise ValidationFailed(
            f"Invalid {field} {name!r}: Gatehouse model names are 1-100 letters, digits, '-' or "
            "'_' (they appear in references like credit-default@3)."
        )
    return name


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    for key, value in tags.items():
        if not key or len(key) > MAX_TAG_KEY:
            raise ValidationFailed(f"Invalid tag key {key!r}: 1 to {MAX_TAG_KEY} characters.")
        if len(value) > MAX_TAG_VALUE:
            raise ValidationFailed(f"The value of tag {key!r} is longer than {MAX_TAG_VALUE} characters.")
    return tags


def public_url(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def _url(url_name: str, fallback: str, **kwargs) -> str:
    try:
        return public_url(reverse(url_name, kwargs=kwargs))
    except NoReverseMatch:
        return public_url(fallback)


def promotion_url(request_id: int) -> str:
    return _url("approvals:request-detail", f"/promotions/{request_id}/", request_id=request_id)


def model_url(name: str) -> str:
    return _url("registry:model-detail", f"/models/{name}/", name=name)


# --- registered models --------------------------------------------------------------------------


def team_for(actor, tags: dict[str, str]) -> Team:
    """The `gatehouse.team` tag's team, or the caller's only team."""
    wanted = (tags.get(TEAM_TAG) or "").strip()
    mine = list(Team.objects.filter(id__in=actor.team_ids).order_by("name"))
    if wanted:
        team = Team.objects.filter(name=wanted).first()
        if team is None:
            raise ValidationFailed(f"Unknown team {wanted!r} in the tag {TEAM_TAG}.")
        return team
    if len(mine) == 1:
        return mine[0]
    choices = ", ".join(t.name for t in mine) if mine else "none: you belong to no team"
    raise ValidationFailed(
        f"Say which team owns the model with the tag {TEAM_TAG} (your teams: {choices})."
    )


@transaction.atomic(durable=True)
def model_create(
    *, actor, name: str, description: str = "", tags: dict[str, str] | None = None,
    team: Team | None = None,
) -> RegisteredModel:
    """Register a model owned by `team` (default: the `gatehouse.team` tag or the caller's only
    team) under the registry's rules, then keep its MLflow tags, in one transaction."""
    name = check_name(name)
    tags = check_tags(dict(tags or {}))
    _require(perms.explain_cannot_write(actor))
    team = team or team_for(actor, tags)
    model = registry_services.model_register(actor=actor, name=name, team=team, description=description or "")
    if tags:
        model_tags_set(actor=actor, model=model, tags=tags)
    return model


def model_describe(*, actor, model: RegisteredModel, description: str) -> RegisteredModel:
    return registry_services.model_update(actor=actor, model=model, changes={"description": description or ""})


def model_rename(*, actor, model: RegisteredModel, new_name: str) -> RegisteredModel:
    """Rename under the registry's rule (a model with governance history keeps its name)."""
    new_name = check_name(new_name, "new_name")
    return registry_services.model_rename(actor=actor, model=model, new_name=new_name)


def model_delete(*, actor, model: RegisteredModel) -> None:
    """Delete under the registry's rule (only an empty model with no governance records)."""
    registry_services.model_delete(actor=actor, model=model)


@transaction.atomic  # also called inside model_create / version_create
def model_tags_set(*, actor, model: RegisteredModel, tags: dict[str, str]) -> None:
    """Set MLflow tags on a model (owning team and admins); one event for the changed keys."""
    check_tags(tags)
    _require(perms.explain_cannot_edit_model(actor, model))
    current = {t.key: t for t in ModelTag.objects.select_for_update().filter(model=model)}
    before, after = _upsert(current, tags, lambda k, v: ModelTag(model=model, key=k, value=v))
    if after:
        audit.record(action="mlflow_api.model.tagged", actor=actor, target=model,
                     model_name=model.name, payload={"before": before, "after": after})


@transaction.atomic(durable=True)
def model_tag_delete(*, actor, model: RegisteredModel, key: str) -> None:
    _require(perms.explain_cannot_edit_model(actor, model))
    tag = ModelTag.objects.select_for_update().filter(model=model, key=key).first()
    if tag is None:
        return
    tag.delete()
    audit.record(action="mlflow_api.model.untagged", actor=actor, target=model,
                 model_name=model.name, payload={"before": {key: tag.value}, "after": {}})


def _upsert(current: dict, tags: dict[str, str], make) -> tuple[dict, dict]:
    before, after = {}, {}
    for key, value in tags.items():
        row = current.get(key)
        if row is None:
            make(key, value).save()
            before[key], after[key] = None, value
        elif row.value != value:
            before[key], after[key] = row.value, value
            row.value = value
            row.save(update_fields=["value", "updated_at"])
    return before, after


# --- model versions -----------------------------------------------------------------------------


def tagged_identity(tags: dict[str, str]) -> tuple[str, str]:
    """(sha256, format) the `gatehouse.artifact_*` tags declare (either may be empty); a sha256
    that is not 64 hex characters is refused."""
    sha = (tags.get(SHA_TAG) or "").strip().lower()
    fmt = (tags.get(FORMAT_TAG) or "").strip().lower()
    if sha and not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise ValidationFailed(f"The tag {SHA_TAG} must be the artifact's sha256: 64 hex characters.")
    if fmt and fmt not in ("skops", "onnx"):
        raise ValidationFailed(f"The tag {FORMAT_TAG} must be skops or onnx, not {fmt!r}.")
    return sha, fmt


def _unreadable(source: str) -> str:
    return (
        f"Gatehouse pins every model version to the sha256 of its artifact and cannot read "
        f"{source}: log the model under {sources.describe_storage()} so the server hashes it "
        f"itself, or add the tag {SHA_TAG}=<sha256 of the skops/ONNX file> (with {FORMAT_TAG}="
        "skops or onnx when the source is not a .skops/.onnx file)."
    )


def _artifact_from(source: str, tags: dict[str, str]) -> tuple[dict, sources.ReadableSource | None]:
    """The registry's artifact arguments for `source`, and the file to read when the server can
    read it. A source the server can read (see
    `sources`) is read through the artifact storage and stored like an upload (streamed, hashed,
    checked: no pickles), and the tags, when given, must agree with what was read; any other
    source needs its sha256 in the tag."""
    sha, fmt = tagged_identity(tags)
    readable = sources.resolve(source)
    if readable is None:
        if not sha:
            raise ValidationFailed(_unreadable(source), code="sha256_required")
        if not fmt and not source.lower().endswith(storage.PICKLE_EXTENSIONS + (".skops", ".onnx")):
            raise ValidationFailed(
                f"Say the artifact's format with the tag {FORMAT_TAG}=skops or onnx: the source "
                f"{source} is not a .skops/.onnx file and Gatehouse cannot read it."
            )
        return {"artifact_uri": source, "artifact_sha256": sha, "artifact_format": fmt}, None
    if fmt and readable.artifact_format and fmt != readable.artifact_format:
        raise ValidationFailed(
            f"The tag {FORMAT_TAG}={fmt} does not match {source}: its MLmodel file names a "
            f"{readable.artifact_format} model ({readable.filename})."
        )
    pinned = {"artifact_filename": readable.filename, "artifact_sha256": sha,
              "artifact_format": readable.artifact_format or fmt}
    return pinned, readable


def _register(*, source: str, pinned: dict, readable: sources.ReadableSource | None,
              **fields) -> ModelVersion:
    """Register with the pinned artifact; a readable source is streamed from the storage into
    the registry's upload path (hashed, checked, stored by sha256)."""
    if readable is None:
        return registry_services.model_version_register(**pinned, **fields)
    sha_tag = pinned["artifact_sha256"]
    with readable.storage.open(readable.name, "rb") as fh:
        try:
            return registry_services.model_version_register(artifact_file=fh, **pinned, **fields)
        except ValidationFailed as exc:
            if exc.code != "sha256_mismatch":
                raise
            raise ValidationFailed(
                f"The tag {SHA_TAG}={sha_tag} does not match the artifact Gatehouse read from "
                f"{source} ({readable.filename}); correct the tag or leave it out (the server "
                "pins the artifact itself).",
                code="sha256_mismatch",
            ) from None


def version_create(
    *, actor, model: RegisteredModel, source: str, run_id: str = "", run_link: str = "",
    description: str = "", tags: dict[str, str] | None = None, extra: dict | None = None,
    artifact: tuple[str, str, str] | None = None,
) -> ModelVersion:
    """Register the next version from an MLflow source, pinned to its artifact's sha256 (read
    by the server when the source is in its artifact storage, else the tag). `source`,
    `run_id`, `run_link` and the tags are kept as provenance, the tags also as MLflow tags, in
    one transaction with one audit event. `extra` adds registry fields (the importer's
    hyperparameters, metrics, datasets); `artifact` = (uri, sha256, format) when the caller has
    hashed the artifact itself (the importer). The new version carries `new_mlflow_tags`.
    Everything is checked before the registry's transaction starts; the tags are written in it."""
    tags = check_tags(dict(tags or {}))
    source = (source or "").strip()
    if not source:
        raise ValidationFailed("A model version needs its source (the URI of the model artifacts).")
    _require(perms.explain_cannot_edit_model(actor, model))
    if artifact:
        readable = None
        pinned = {"artifact_uri": artifact[0], "artifact_sha256": artifact[1], "artifact_format": artifact[2]}
    else:
        pinned, readable = _artifact_from(source, tags)
    extra = dict(extra or {})
    provenance = {"source": source, "run_id": run_id or "", "run_link": run_link or "",
                  "mlflow_tags": tags, **extra.pop("provenance", {})}
    written: list[VersionTag] = []

    def keep_tags(version: ModelVersion) -> None:
        # A new version has no tags and nobody sees it before commit: one INSERT, no lock. The
        # registration event already names these tags (provenance.mlflow_tags).
        if tags:
            written.extend(VersionTag.objects.bulk_create(
                [VersionTag(version=version, key=k, value=v) for k, v in tags.items()]
            ))

    # The registry's transaction is the only one (no savepoint around it): the tags join it.
    version = _register(
        source=source, pinned=pinned, readable=readable, actor=actor, model=model,
        description=description or "", provenance=provenance, on_registered=keep_tags, **extra,
    )
    version.new_mlflow_tags = written
    return version


def version_describe(*, actor, version: ModelVersion, description: str) -> ModelVersion:
    return registry_services.model_version_update(
        actor=actor, version=version, changes={"description": description or ""}
    )


def version_delete(*, actor, version: ModelVersion) -> None:
    """Registered versions are never deleted: they are the audit record."""
    _require(perms.explain_cannot_write(actor))
    raise Forbidden(
        f"Gatehouse keeps every registered version for the audit record, so {version.ref} cannot "
        "be deleted; archive it instead (transition its stage to Archived)."
    )


@transaction.atomic  # also called inside model_create / version_create
def version_tags_set(*, actor, version: ModelVersion, tags: dict[str, str]) -> None:
    check_tags(tags)
    _require(perms.explain_cannot_edit_model(actor, version.model))
    current = {t.key: t for t in VersionTag.objects.select_for_update().filter(version=version)}
    before, after = _upsert(current, tags, lambda k, v: VersionTag(version=version, key=k, value=v))
    if after:
        audit.record(action="mlflow_api.version.tagged", actor=actor, target=version,
                     model_name=version.model.name, payload={"before": before, "after": after})


@transaction.atomic(durable=True)
def version_tag_delete(*, actor, version: ModelVersion, key: str) -> None:
    _require(perms.explain_cannot_edit_model(actor, version.model))
    tag = VersionTag.objects.select_for_update().filter(version=version, key=key).first()
    if tag is None:
        return
    tag.delete()
    audit.record(action="mlflow_api.version.untagged", actor=actor, target=version,
                 model_name=version.model.name, payload={"before": {key: tag.value}, "after": {}})


# --- stages: archiving is free, Staging/Production are governed ----------------------------------


ARCHIVE_REASON = "Archived through the MLflow API (transition-stage to Archived)."


def version_archive(*, actor, version: ModelVersion) -> ModelVersion:
    """Archive as MLflow does, through approvals (the only app that moves stage): a version in
    development is archived by its team; one in staging or production leaves it through the
    emergency rollback (validators and the model's owner), which records why and notifies."""
    return approvals_services.version_archive(actor=actor, version=version, reason=ARCHIVE_REASON)


def _live_request(actor, version: ModelVersion, target_stage: str) -> PromotionRequest | None:
    return approvals_selectors.promotion_list_for_user(actor).filter(
        version=version, target_stage=target_stage, state__in=LIVE_STATES
    ).first()


def promotion_open_or_reuse(*, actor, version: ModelVersion, target_stage: str, asked: str) -> PromotionRequest:
    """The live promotion request for this version and stage, opened now if there is none."""
    existing = _live_request(actor, version, target_stage)
    if existing:
        return existing
    version = ModelVersion.objects.select_related("model").get(pk=version.pk)
    try:
        approvals_services.promotion_request_open(
            actor=actor, version=version, target_stage=target_stage,
            justification=f"Requested through the MLflow API by {actor.username}: {asked}.",
        )
    except ValidationFailed as exc:
        if exc.code == "no_risk_assessment":
            raise Forbidden(
                f"{version.ref} cannot move to {protocol.TO_MLFLOW_STAGE[target_stage]}: "
                f"{version.model.name} has no risk assessment, so no promotion can be requested. "
                f"Assess its risk first: {model_url(version.model.name)}"
            ) from None
        raise Forbidden(f"{version.ref} cannot move to {target_stage}: {exc.detail}") from None
    except Conflict as exc:
        if exc.code != "already_open":
            raise Forbidden(exc.detail) from None
    found = _live_request(actor, version, target_stage)
    if found is None:  # opened and closed at once (e.g. revoked): say so rather than guess
        raise Forbidden(f"{version.ref} cannot move to {target_stage} now; see {model_url(version.model.name)}")
    return found


def refusal_for(req: PromotionRequest, asked: str) -> str:
    """The PERMISSION_DENIED sentence: what is missing and where to see the request."""
    approved = {d.role for d in req.decisions.all() if d.decision == DecisionKind.APPROVE}
    missing_roles = [r for r in req.required_roles if r not in approved]
    evidence = list((req.gate_report or {}).get("missing") or [])
    stage = protocol.TO_MLFLOW_STAGE.get(req.target_stage, req.target_stage)
    parts = [
        f"{asked} needs approval in Gatehouse: {req.version.ref} moves to {stage} only through "
        f"promotion request #{req.pk} ({req.state})."
    ]
    if missing_roles:
        parts.append(f"Missing approvals: {', '.join(missing_roles)}.")
    if evidence:
        parts.append(f"Missing evidence: {'; '.join(evidence)}.")
    parts.append(f"See {promotion_url(req.pk)}")
    return " ".join(parts)


def governed_move(*, actor, version: ModelVersion, target_stage: str, asked: str) -> NoReturn:
    """Staging/Production (and protected aliases) never move a version from the MLflow API:
    open or reuse the promotion request and refuse, naming what it waits for."""
    _require(perms.explain_cannot_write(actor))
    req = promotion_open_or_reuse(actor=actor, version=version, target_stage=target_stage, asked=asked)
    raise Forbidden(refusal_for(req, asked), code="promotion_required")


def version_transition(*, actor, version: ModelVersion, mlflow_stage: str) -> ModelVersion:
    stage = protocol.gatehouse_stage(mlflow_stage)
    if stage == version.stage:
        return version
    if stage == Stage.ARCHIVED:
        return version_archive(actor=actor, version=version)
    if stage == Stage.DEVELOPMENT:
        _require(perms.explain_cannot_write(actor))
        raise Forbidden(
            f"Gatehouse does not move {version.ref} back to None (development): versions leave "
            "development only through promotion requests or archiving. Register a new version instead."
        )
    governed_move(actor=actor, version=version, target_stage=stage,
                  asked=f"Transition of {version.ref} to {protocol.TO_MLFLOW_STAGE[stage]}")


# --- aliases ----------------------------------------------------------------------------------


def check_alias(alias: str) -> str:
    alias = (alias or "").strip()
    if not ALIAS_RE.match(alias):
        raise ValidationFailed(f"Invalid alias {alias!r}: letters, digits, '_' and '-' only.")
    if alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        raise ValidationFailed(f"The alias {alias!r} is reserved by MLflow.")
    return alias


def alias_set(*, actor, model: RegisteredModel, alias: str, version: ModelVersion) -> None:
    """Point an alias at a version. Protected aliases follow the production version: asking for
    one opens (or reuses) the version's promotion request to production instead."""
    alias = check_alias(alias)
    if version.model_id != model.pk:
        raise ValidationFailed(f"Version {version.version} does not belong to {model.name}.")
    if protocol.is_protected_alias(alias):
        if version.stage == Stage.PRODUCTION:
            return
        governed_move(actor=actor, version=version, target_stage=Stage.PRODUCTION,
                      asked=f"The protected alias '{alias}' on {version.ref}")
    _alias_store(actor=actor, model=model, alias=alias, version=version)


@transaction.atomic(durable=True)
def _alias_store(*, actor, model: RegisteredModel, alias: str, version: ModelVersion) -> None:
    _require(perms.explain_cannot_edit_model(actor, model))
    RegisteredModel.objects.select_for_update().filter(pk=model.pk).first()
    row = ModelAlias.objects.select_related("version").filter(model=model, alias=alias).first()
    before = row.version.version if row else None
    if before == version.version:
        return
    if row is None:
        ModelAlias.objects.create(model=model, alias=alias, version=version)
    else:
        row.version = version
        row.save(update_fields=["version", "updated_at"])
    audit.record(action="mlflow_api.alias.set", actor=actor, target=model, model_name=model.name,
                 payload={"alias": alias, "before": {"version": before}, "after": {"version": version.version}})


@transaction.atomic(durable=True)
def alias_delete(*, actor, model: RegisteredModel, alias: str) -> None:
    _require(perms.explain_cannot_edit_model(actor, model))
    if protocol.is_protected_alias(alias):
        raise Forbidden(
            f"The alias '{alias}' is protected: it always points at {model.name}'s production "
            "version. A production version leaves production through Gatehouse (archive it, "
            "or a validator's rollback)."
        )
    row = ModelAlias.objects.select_for_update().select_related("version").filter(model=model, alias=alias).first()
    if row is None:
        return
    row.delete()
    audit.record(action="mlflow_api.alias.deleted", actor=actor, target=model, model_name=model.name,
                 payload={"alias": alias, "before": {"version": row.version.version}, "after": {}})

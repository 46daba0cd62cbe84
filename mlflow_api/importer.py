"""Import an existing MLflow registry into Gatehouse, idempotently.

Models (description, tags, unprotected aliases) and their versions (description, tags, source,
run id/link) become Gatehouse registry rows through the same services as the MLflow API; each
version's run gives hyperparameters (params), metrics, the git commit and its dataset inputs as
lineage. A version is recognised on later runs by `provenance.imported_from`, so running the
import again changes nothing (and records no audit event) unless the source changed.

What is not carried over, on purpose: stages Staging/Production (a version gets there only
through a Gatehouse promotion request), protected aliases (they follow Gatehouse's production
version), and versions whose artifact is not one skops or ONNX file (Gatehouse pins each
version to the sha256 of such a file and never loads pickles).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.conf import settings

from governance.models import Team
from mlflow_api import protocol, services
from registry import services as registry_services
from registry import uris
from registry.models import Dataset, DatasetVersion, ModelVersion, RegisteredModel

PROMPT_TAG = "mlflow.prompt.is_prompt"
EVAL_CONTEXTS = {"eval", "evaluation", "validation", "test", "testing"}


@dataclass
class ImportReport:
    models_created: int = 0
    versions_created: int = 0
    datasets_created: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"models created: {self.models_created}, versions created: {self.versions_created}, "
            f"datasets created: {self.datasets_created}, versions already imported: {self.unchanged}"
        ]
        out += [f"skipped: {s}" for s in self.skipped]
        out += [f"note: {n}" for n in self.notes]
        return out


def _pages(call, **kw):
    token = None
    while True:
        page = call(max_results=100, page_token=token, **kw)
        yield from page
        token = page.token
        if not token:
            return


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _slug(name: str) -> str:
    return re.sub(r"[^-a-z0-9_]+", "-", name.lower()).strip("-")[:100] or "dataset"


class Importer:
    def __init__(self, *, tracking_uri: str, actor, team: Team | None, client=None):
        from mlflow import MlflowClient

        self.uri = tracking_uri
        self.actor = actor
        self.team = team
        self.client = client or MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.report = ImportReport()

    # --- entry point ----------------------------------------------------------------------

    def run(self) -> ImportReport:
        for rm in _pages(self.client.search_registered_models):
            if (rm.tags or {}).get(PROMPT_TAG) == "true":
                continue
            if not services.NAME_RE.match(rm.name):
                self.report.skipped.append(
                    f"model {rm.name!r}: Gatehouse names are letters, digits, '-' and '_'")
                continue
            self._model(rm)
        return self.report

    # --- models ---------------------------------------------------------------------------

    def _model(self, rm) -> None:
        tags = dict(rm.tags or {})
        model = RegisteredModel.objects.filter(name=rm.name).first()
        if model is None:
            model = services.model_create(actor=self.actor, name=rm.name, description=rm.description or "",
                                          tags=tags, team=self.team)
            self.report.models_created += 1
        else:
            if (rm.description or "") != model.description:
                model = services.model_describe(actor=self.actor, model=model, description=rm.description or "")
            if tags:
                services.model_tags_set(actor=self.actor, model=model, tags=tags)
        numbers: dict[str, ModelVersion] = {}
        versions = sorted(
            _pages(self.client.search_model_versions, filter_string=f"name = '{rm.name}'"),
            key=lambda mv: int(mv.version),
        )
        for mv in versions:
            found = self._version(model, mv)
            if found is not None:
                numbers[str(mv.version)] = found
        for alias, number in sorted((rm.aliases or {}).items()):
            if protocol.is_protected_alias(alias):
                self.report.notes.append(
                    f"{rm.name}: alias '{alias}' not imported; it follows the version Gatehouse "
                    "has in production")
            elif str(number) in numbers:
                services.alias_set(actor=self.actor, model=model, alias=alias, version=numbers[str(number)])

    # --- versions -------------------------------------------------------------------------

    def _version(self, model: RegisteredModel, mv) -> ModelVersion | None:
        key = {"tracking_uri": self.uri, "name": mv.name, "version": str(mv.version)}
        existing = ModelVersion.objects.filter(
            model=model, provenance__imported_from__tracking_uri=self.uri,
            provenance__imported_from__version=str(mv.version),
        ).select_related("model").first()
        tags = dict(mv.tags or {})
        if existing is not None:
            self.report.unchanged += 1
            if (mv.description or "") != existing.description:
                services.version_describe(actor=self.actor, version=existing, description=mv.description or "")
            if tags:
                services.version_tags_set(actor=self.actor, version=existing, tags=tags)
            return existing
        artifact = self._artifact(mv, tags)
        if artifact is None:
            return None
        extra = self._run_facts(model, mv.run_id) if mv.run_id else {}
        extra["provenance"] = {"imported_from": key, "mlflow_stage": mv.current_stage}
        version = services.version_create(
            actor=self.actor, model=model, source=mv.source, run_id=mv.run_id or "",
            run_link=mv.run_link or "", description=mv.description or "", tags=tags,
            extra=extra, artifact=artifact,
        )
        self.report.versions_created += 1
        if version.version != int(mv.version):
            self.report.notes.append(f"{mv.name} version {mv.version} is version {version.version} in Gatehouse")
        if mv.current_stage == "Archived":
            services.version_archive(actor=self.actor, version=version)
        elif mv.current_stage in ("Staging", "Production"):
            self.report.notes.append(
                f"{version.ref} was in {mv.current_stage} in MLflow; it stays in development "
                "until a Gatehouse promotion request is approved")
        return version

    def _artifact(self, mv, tags: dict[str, str]) -> tuple[str, str, str] | None:
        """(artifact uri, sha256, format): the gatehouse tags when the source carries them,
        else the one .skops/.onnx file found by downloading the source's artifacts."""
        if tags.get(services.SHA_TAG):
            sha, fmt = services.tagged_identity(tags)
            return mv.source, sha, fmt
        from mlflow.artifacts import download_artifacts

        label = f"{mv.name} version {mv.version}"
        with tempfile.TemporaryDirectory(dir=settings.VAR_DIR) as tmp:
            try:
                local = Path(download_artifacts(artifact_uri=mv.source, dst_path=tmp, tracking_uri=self.uri))
            except Exception as exc:  # noqa: BLE001 - any failure is reported, the rest goes on
                self.report.skipped.append(f"{label}: its artifacts could not be read ({exc})")
                return None
            files = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
            models = [p for p in files if p.suffix.lower() in (".onnx", ".skops")]
            if len(models) != 1:
                names = ", ".join(p.name for p in files[:5]) or "nothing"
                self.report.skipped.append(
                    f"{label}: Gatehouse registers one .skops or .onnx artifact per version; "
                    f"the source holds {names}")
                return None
            chosen = models[0]
            if chosen.stat().st_size > settings.MAX_ARTIFACT_BYTES:
                self.report.skipped.append(f"{label}: the artifact is larger than MAX_ARTIFACT_BYTES")
                return None
            inner = "" if local.is_file() else chosen.relative_to(local).as_posix()
            uri = mv.source.rstrip("/") + ("/" + inner if inner else "")
            return uri, _sha256_file(chosen), chosen.suffix.lower().lstrip(".")

    # --- runs: params, metrics, commit, dataset inputs ------------------------------------

    def _run_facts(self, model: RegisteredModel, run_id: str) -> dict:
        try:
            run = self.client.get_run(run_id)
        except Exception as exc:  # noqa: BLE001 - a missing run leaves the version without them
            self.report.notes.append(f"run {run_id} could not be read ({exc}); no params or metrics")
            return {}
        facts: dict = {
            "hyperparameters": dict(run.data.params),
            "metrics": dict(run.data.metrics),
            "code_commit": run.data.tags.get("mlflow.source.git.commit", "")[:100],
        }
        train, evals = [], []
        for item in run.inputs.dataset_inputs if run.inputs else []:
            context = next((t.value for t in item.tags if t.key == "mlflow.data.context"), "")
            found = self._dataset_version(model, item.dataset)
            if found is None:
                continue
            ref = found.ref
            (evals if context.lower() in EVAL_CONTEXTS else train).append(ref)
        facts["training_datasets"] = list(dict.fromkeys(train))
        facts["evaluation_datasets"] = [r for r in dict.fromkeys(evals) if r not in train]
        return facts

    def _dataset_version(self, model: RegisteredModel, ds) -> DatasetVersion | None:
        """The Gatehouse dataset version of an MLflow dataset input (created once). A source
        that is a readable local CSV/Parquet file is uploaded (hashed and stored: a local path
        is not a URI the registry records); otherwise the sha256 is that of the MLflow dataset
        record (name, digest, source), and the description says so. A source whose URI the
        registry refuses (registry.uris) is left out, with a note in the report."""
        uri, sha, hashed = self._dataset_identity(ds)
        local = Path(unquote(urlparse(uri).path)) if hashed else None
        upload = local is not None and local.suffix.lower() in (".csv", ".parquet", ".pq")
        if not upload and not uris.is_allowed(uri):
            self.report.notes.append(
                f"dataset {ds.name!r} not imported: its source {uri[:200]!r} is not a URI the "
                f"registry records ({uris.refusal(uri)})"
            )
            return None
        name = _slug(ds.name)
        dataset = Dataset.objects.filter(name=name).first()
        if dataset is None:
            dataset = registry_services.dataset_register(
                actor=self.actor, name=name, team=model.team,
                description=f"Imported from MLflow ({self.uri}).",
            )
            self.report.datasets_created += 1
        found = DatasetVersion.objects.select_related("dataset").filter(dataset=dataset, sha256=sha).first()
        if found is not None:
            return found
        how = ("sha256 of the data file" if hashed else
               "sha256 of the MLflow dataset record; the data itself was not reachable to hash")
        description = f"MLflow dataset {ds.name!r}, digest {ds.digest}, {ds.source_type} source ({how})."
        if upload:
            with local.open("rb") as fh:
                return registry_services.dataset_version_register(
                    actor=self.actor, dataset=dataset, file=fh, filename=local.name, sha256=sha,
                    description=description,
                )
        return registry_services.dataset_version_register(
            actor=self.actor, dataset=dataset, uri=uri[:1000], sha256=sha, description=description,
        )

    @staticmethod
    def _dataset_identity(ds) -> tuple[str, str, bool]:
        try:
            source = json.loads(ds.source or "{}")
        except ValueError:
            source = {}
        uri = str(source.get("uri") or source.get("path") or source.get("url") or ds.source or "")
        parsed = urlparse(uri)
        local = Path(unquote(parsed.path)) if parsed.scheme in ("", "file") and uri else None
        if local is not None and local.is_absolute() and local.is_file():
            return uri, _sha256_file(local), True
        record = json.dumps({"name": ds.name, "digest": ds.digest, "source": ds.source}, sort_keys=True)
        return uri or f"mlflow-dataset:{ds.name}@{ds.digest}", hashlib.sha256(record.encode()).hexdigest(), False


def import_registry(*, tracking_uri: str, actor, team: Team | None = None) -> ImportReport:
    return Importer(tracking_uri=tracking_uri, actor=actor, team=team).run()


"""Running jobs (in-process, the worker's code path): safe loading, bad input, results, policy."""

from __future__ import annotations

import io

import numpy as np
import pytest
import skops.io

from common import artifact_store
from explainability import runtime, scheduling, selectors, services
from explainability.models import Job
from registry import services as registry_services
from tests.integration import jobdata

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_heartbeat(settings, monkeypatch):
    settings.JOB_HEARTBEAT_SECONDS = 3600
    monkeypatch.setattr(services, "_enqueue", lambda job_id: None)


@pytest.fixture
def eng(personas):
    return personas["engineer"]


@pytest.fixture
def data(eng):
    df = jobdata.credit(n=200)
    return df, jobdata.upload_dataset(eng, df)


def _run(eng, mv, dv, kind="shap", **params) -> Job:
    params.setdefault("sample_size", 15) if kind == "shap" else None
    job = services.job_start(actor=eng, version=mv, kind=kind, dataset=dv, params=params)
    return runtime.run_inline(job.pk)


def test_a_skops_file_with_an_untrusted_type_fails_naming_the_type(eng, data, settings):
    """Registration refuses untrusted types (tests/registry/test_api_skops_types.py); a type
    trusted then but no longer (the allowlist narrowed since) fails the job the same way."""
    import operator

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    df, dv = data
    model = make_pipeline(FunctionTransformer(operator.neg), jobdata.estimator("logreg"))
    model.fit(jobdata.rows_as_array(df), df["default"])
    narrowed = list(settings.TRUSTED_SKOPS_TYPE_PREFIXES)
    settings.TRUSTED_SKOPS_TYPE_PREFIXES = [*narrowed, "_operator.neg"]
    mv = jobdata.register(eng, model, training=dv)
    settings.TRUSTED_SKOPS_TYPE_PREFIXES = narrowed

    job = _run(eng, mv, dv)

    assert job.status == "failed" and job.error_code == "unsafe_input"
    assert "_operator.neg" in job.error_message and "allowlist" in job.error_message
    assert job.result is None


def test_an_artifact_changed_after_registration_is_refused_by_its_sha256(eng, data):
    df, dv = data
    mv = jobdata.register(eng, jobdata.fit("logreg", df), training=dv)
    other = skops.io.dumps(jobdata.fit("gbm", df))
    (artifact_store.artifact_root() / mv.artifact.storage_path).write_bytes(other)

    job = _run(eng, mv, dv)

    assert job.status == "failed" and "sha256" in job.error_message
    assert mv.artifact_sha256 in job.error_message


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda df: df.drop(columns=["debt_ratio"]), ["'debt_ratio'", "missing"]),
        (lambda df: df.assign(income="high"), ["'income'", "not numeric"]),
        (lambda df: df.iloc[:0], ["no rows"]),
    ],
)
def test_bad_data_fails_the_job_with_a_sentence_naming_the_problem(eng, data, change, words):
    df, dv = data
    mv = jobdata.register(eng, jobdata.fit("logreg", df), training=dv)
    bad = jobdata.upload_dataset(eng, change(df.copy()))

    job = _run(eng, mv, bad)

    assert job.status == "failed" and job.error_code == "bad_input", job.error_detail
    for word in words:
        assert word in job.error_message
    assert not list(job.output_root.glob("attempt-*/*.svg"))


def test_a_fairness_job_without_its_label_column_fails_naming_it(eng, data):
    df, dv = data
    mv = jobdata.register(eng, jobdata.fit("logreg", df), training=dv)
    # With the columns registered the request itself is refused (explainability's
    # test_job_inputs); a dataset whose columns the registry does not know reaches the worker,
    # which fails the job naming the column.
    type(dv).objects.filter(pk=dv.pk).update(schema=[])
    dv.refresh_from_db()
    job = _run(eng, mv, dv, kind="fairness", label_column="outcome")
    assert job.status == "failed" and "'outcome'" in job.error_message


def test_a_model_that_cannot_predict_fails_the_job_and_not_the_worker(eng, data):
    df, dv = data
    narrow = jobdata.estimator("logreg").fit(df[["income", "age"]].to_numpy(float), df["default"])
    mv = jobdata.register(eng, narrow, training=dv)  # signature says six features
    job = _run(eng, mv, dv, kind="fairness", label_column="default")
    assert job.status == "failed" and job.error_code == "bad_input"
    assert "features" in job.error_message


def test_fairness_result_has_a_verdict_per_metric_policy_provenance_and_small_groups(eng, data):
    df, dv = data
    mv = jobdata.register(eng, jobdata.fit("logreg", df), training=dv)
    job = _run(eng, mv, dv, kind="fairness", label_column="default", threshold=0.3,
               min_group_size=60, thresholds={"demographic_parity_difference": {"max": 0.05}})

    assert job.status == "succeeded", job.error_detail
    result = job.result
    assert isinstance(result["passed"], bool)
    assert set(result["metrics"]) == {"demographic_parity_difference", "disparate_impact_ratio",
                                      "equalized_odds_difference"}
    assert result["thresholds"]["values"]["demographic_parity_difference"] == {"max": 0.05}
    assert result["thresholds"]["source"] == "default"
    assert result["passed"] == all(c["passed"] for c in result["checks"])
    scopes = {c["scope"] for c in result["checks"]}
    assert {"sex", "age_band", "sex & age_band"} <= scopes
    assert result["small_groups"] and all(g["count"] < 60 for g in result["small_groups"])
    assert result["outcomes"]["overall"]["auc"] is not None
    assert result["inputs"]["data_sha256"] == dv.sha256


def test_shap_of_a_multiclass_model_needs_a_class_and_explains_the_one_chosen(eng):
    from sklearn.ensemble import RandomForestClassifier

    df = jobdata.credit(n=200)
    df["default"] = np.digitize(df["debt_ratio"], [0.2, 0.35])  # three classes
    dv = jobdata.upload_dataset(eng, df, name="three-classes")
    forest = RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0)
    mv = jobdata.register(eng, forest.fit(jobdata.rows_as_array(df), df["default"]), training=dv)

    unchosen = _run(eng, mv, dv)
    chosen = _run(eng, mv, dv, class_index=2)

    assert unchosen.status == "failed" and "class_index" in unchosen.error_message
    assert chosen.status == "succeeded" and chosen.result["class_index"] == 2
    assert chosen.result["feature_importance"][0]["feature"] == "debt_ratio"


def test_an_onnx_model_is_explained_model_agnostically(eng, data):
    from skl2onnx import to_onnx

    df, dv = data
    fitted = jobdata.fit("logreg", df)
    onnx_bytes = to_onnx(fitted, jobdata.rows_as_array(df)[:1].astype(np.float32),
                         options={"zipmap": False}).SerializeToString()
    model = jobdata.factories.model(eng, name="onnx-pd")
    mv = registry_services.model_version_register(
        actor=eng, model=model, artifact_file=io.BytesIO(onnx_bytes),
        artifact_filename="model.onnx", signature=jobdata.demo.signature(jobdata.FEATURES),
    )

    job = _run(eng, mv, dv, sample_size=4, background_size=10)

    assert job.status == "succeeded", job.error_detail
    assert job.result["explainer"] == "PermutationExplainer"
    assert "ONNX" in job.result["explainer_reason"]


def test_latest_job_is_the_newest_succeeded_job_of_that_kind(eng, data):
    df, dv = data
    mv = jobdata.register(eng, jobdata.fit("logreg", df), training=dv)
    first = _run(eng, mv, dv)
    second = _run(eng, mv, dv)
    bad = jobdata.upload_dataset(eng, df.iloc[:0])
    _run(eng, mv, bad)

    assert selectors.latest_job(mv, "shap") == second != first
    assert selectors.latest_job(mv, "shap", status="failed").dataset == bad
    assert selectors.latest_job(mv, "fairness") is None
    assert list(selectors.jobs_for_version(mv))[0].status == "failed"


def test_drift_includes_shap_importance_drift_when_both_datasets_have_shap(eng, data):
    df, dv = data
    mv = jobdata.register(eng, jobdata.fit("gbm", df), training=dv)
    newer = jobdata.upload_dataset(eng, jobdata.credit(n=200, seed=9, shift=1.5))
    _run(eng, mv, dv)
    without = _run(eng, mv, newer, kind="drift")
    _run(eng, mv, newer)
    with_shap = _run(eng, mv, newer, kind="drift")

    assert without.result["importance"] is None and "SHAP" in without.result["notes"][0]
    assert with_shap.result["importance"]["verdict"] in ("stable", "warn", "drift")
    assert {f["feature"] for f in with_shap.result["importance"]["features"]} == set(
        jobdata.FEATURES
    )


def test_drift_jobs_against_one_reference_sort_it_once_per_worker_and_agree(
    eng, data, monkeypatch
):
    from collections import OrderedDict

    from explainability import inputs
    from explainability.runners import drift

    monkeypatch.setattr(inputs, "_cache", OrderedDict())  # a fresh worker process
    df, dv = data
    mv = jobdata.register(eng, jobdata.fit("gbm", df), training=dv)
    built = []
    real = drift.profile_reference
    monkeypatch.setattr(drift, "profile_reference", lambda *a, **k: built.append(1) or real(*a, **k))
    newer = jobdata.upload_dataset(eng, jobdata.credit(n=300, seed=9, shift=1.5))
    later = jobdata.upload_dataset(eng, jobdata.credit(n=250, seed=10, shift=0.5))

    first = _run(eng, mv, newer, kind="drift")
    second = _run(eng, mv, later, kind="drift")
    again = _run(eng, mv, newer, kind="drift")

    assert [j.status for j in (first, second, again)] == ["succeeded"] * 3
    assert len(built) == 1  # the reference's sorted columns were kept for the later jobs
    direct = drift.run_drift(df[jobdata.FEATURES], jobdata.credit(n=300, seed=9, shift=1.5)[
        jobdata.FEATURES])
    assert again.result["features"] == first.result["features"] == direct["features"]
    assert second.result["rows"] == {"reference": 200, "current": 250}


def test_the_schedule_queues_one_drift_job_per_production_version_and_new_data(eng, data):
    from registry.choices import Stage
    from registry.models import ModelVersion

    df, dv = data
    mv = jobdata.register(eng, jobdata.fit("logreg", df), training=dv)
    assert scheduling.queue_drift_checks() == []  # not in production
    ModelVersion.objects.filter(pk=mv.pk).update(stage=Stage.PRODUCTION)
    assert scheduling.queue_drift_checks() == []  # no data newer than the training data
    newer = jobdata.upload_dataset(eng, jobdata.credit(n=100, seed=4))

    queued = scheduling.queue_drift_checks()

    assert len(queued) == 1
    job = Job.objects.get(pk=queued[0])
    assert (job.kind, job.dataset, job.reference_dataset, job.created_by) == (
        "drift", newer, dv, None)
    assert scheduling.queue_drift_checks() == []  # the same comparison is not queued twice


def _fresh_worker(monkeypatch):
    """A new worker process: nothing kept in memory (its sha256 memo neither)."""
    from collections import OrderedDict

    from explainability import inputs

    monkeypatch.setattr(inputs, "_cache", OrderedDict())
    monkeypatch.setattr(artifact_store, "_verified", {})


def _profile_file(row):
    return artifact_store.artifact_root() / row.storage_key


def _reads_of(monkeypatch, dataset_version) -> list[int]:
    """Every read of `dataset_version`'s rows by the jobs (its pk, once per read)."""
    from explainability import inputs

    reads, real = [], inputs.read_dataset

    def counted(dv, *args, **kwargs):
        if dv.pk == dataset_version.pk:
            reads.append(dv.pk)
        return real(dv, *args, **kwargs)

    monkeypatch.setattr(inputs, "read_dataset", counted)
    return reads


def test_a_drift_job_in_a_fresh_worker_compares_against_the_stored_reference_profile(
    eng, data, monkeypatch
):
    from explainability.models import DriftReferenceProfile
    from explainability.runners import drift
    from governance.models import AuditEvent

    df, dv = data
    mv = jobdata.register(eng, jobdata.fit("gbm", df), training=dv)
    newer = jobdata.upload_dataset(eng, jobdata.credit(n=300, seed=9, shift=1.5))
    _fresh_worker(monkeypatch)
    first = _run(eng, mv, newer, kind="drift")

    row = DriftReferenceProfile.objects.get()
    assert first.result["reference_profile"] == "built"
    assert (row.data_sha256, row.columns, row.numeric, row.whole_file, row.built_by_job) == (
        dv.sha256, jobdata.FEATURES, jobdata.FEATURES, False, first)
    assert artifact_store.sha256_of(_profile_file(row)) == row.sha256
    event = AuditEvent.objects.get(action="explainability.drift_profile.stored")
    assert event.object_id == str(row.pk) and event.payload["after"]["sha256"] == row.sha256

    _fresh_worker(monkeypatch)
    sorted_again = []
    real = drift.profile_reference
    monkeypatch.setattr(drift, "profile_reference",
                        lambda *a, **k: sorted_again.append(1) or real(*a, **k))
    reference_reads = _reads_of(monkeypatch, dv)
    second = _run(eng, mv, newer, kind="drift")

    assert second.result["reference_profile"] == "stored"
    assert sorted_again == [] and reference_reads == []  # the reference file was not even read
    assert second.result["features"] == first.result["features"]
    assert second.result["rows"] == first.result["rows"] == {"reference": 200, "current": 300}
    assert second.result["timings"]["cpu"]["total_s"] >= 0
    assert DriftReferenceProfile.objects.count() == 1


def test_a_stored_profile_with_a_categorical_feature_reads_the_reference_rows_it_needs(
    eng, data, monkeypatch
):
    df, dv = data
    mv = jobdata.register(eng, jobdata.fit("gbm", df), training=dv)
    newer = jobdata.upload_dataset(eng, jobdata.credit(n=300, seed=9, shift=1.5))
    params = {"features": [*jobdata.FEATURES, "sex"], "bins": 7}
    _fresh_worker(monkeypatch)
    built = _run(eng, mv, newer, kind="drift", **params)
    _fresh_worker(monkeypatch)
    reference_reads = _reads_of(monkeypatch, dv)
    stored = _run(eng, mv, newer, kind="drift", **params)

    assert (built.result["reference_profile"], stored.result["reference_profile"]) == (
        "built", "stored")
    assert reference_reads == [dv.pk]  # once, for the categorical feature's rows
    assert stored.result["features"] == built.result["features"]
    assert {f["feature"]: f["type"] for f in stored.result["features"]}["sex"] == "categorical"


def test_a_corrupted_or_missing_reference_profile_is_rebuilt_and_the_result_is_unchanged(
    eng, data, monkeypatch
):
    from explainability.models import DriftReferenceProfile
    from governance.models import AuditEvent

    df, dv = data
    mv = jobdata.register(eng, jobdata.fit("gbm", df), training=dv)
    newer = jobdata.upload_dataset(eng, jobdata.credit(n=300, seed=9, shift=1.5))
    _fresh_worker(monkeypatch)
    first = _run(eng, mv, newer, kind="drift")
    row = DriftReferenceProfile.objects.get()
    path = _profile_file(row)
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # one flipped byte inside a sorted column
    path.write_bytes(bytes(damaged))

    _fresh_worker(monkeypatch)
    after_damage = _run(eng, mv, newer, kind="drift")
    path.unlink()
    _fresh_worker(monkeypatch)
    after_loss = _run(eng, mv, newer, kind="drift")

    assert [j.status for j in (after_damage, after_loss)] == ["succeeded"] * 2
    assert after_damage.result["reference_profile"] == after_loss.result["reference_profile"] == (
        "built")
    assert after_damage.result["features"] == after_loss.result["features"] == (
        first.result["features"])
    row.refresh_from_db()
    assert artifact_store.sha256_of(path) == row.sha256  # written again, intact
    assert row.built_by_job == after_loss
    replaced = AuditEvent.objects.filter(action="explainability.drift_profile.replaced")
    assert [e.payload["job"] for e in replaced.order_by("seq")] == [after_damage.pk, after_loss.pk]
    _fresh_worker(monkeypatch)
    assert _run(eng, mv, newer, kind="drift").result["reference_profile"] == "stored"


def test_a_version_entering_production_has_its_drift_reference_profiled_ahead(
    eng, data, monkeypatch, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from explainability import tasks
    from explainability.models import DriftReferenceProfile
    from registry.choices import Stage

    df, dv = data
    mv = jobdata.register(eng, jobdata.fit("logreg", df), training=dv)
    sent = []
    monkeypatch.setattr(tasks.prepare_drift_reference, "delay",
                        lambda version_id: sent.append(version_id)
                        or tasks.prepare_drift_reference.apply(args=(version_id,)))
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        registry_services.set_stage(version=mv, stage=Stage.PRODUCTION, actor=eng, reason="test")

    assert sent == [mv.pk]
    row = DriftReferenceProfile.objects.get()
    assert (row.data_sha256, row.columns, row.built_by_job) == (dv.sha256, jobdata.FEATURES, None)
    assert tasks.prepare_drift_reference.apply(args=(mv.pk,)).get().startswith("stored already")
    newer = jobdata.upload_dataset(eng, jobdata.credit(n=100, seed=4))
    _fresh_worker(monkeypatch)
    job = runtime.run_inline(scheduling.queue_drift_checks()[0])
    assert (job.dataset, job.reference_dataset) == (newer, dv)
    assert job.result["reference_profile"] == "stored"
    assert DriftReferenceProfile.objects.count() == 1


def test_storage_refusing_the_profile_does_not_fail_the_drift_job(eng, data, monkeypatch):
    from explainability.models import DriftReferenceProfile

    df, dv = data
    mv = jobdata.register(eng, jobdata.fit("gbm", df), training=dv)
    newer = jobdata.upload_dataset(eng, jobdata.credit(n=300, seed=9, shift=1.5))

    def refuse(*args, **kwargs):
        raise artifact_store.StorageUnavailable("The artifact storage could not store the file")

    _fresh_worker(monkeypatch)
    with monkeypatch.context() as patched:
        patched.setattr(artifact_store, "put", refuse)
        refused = _run(eng, mv, newer, kind="drift")
    _fresh_worker(monkeypatch)
    stored = _run(eng, mv, newer, kind="drift")

    assert refused.status == "succeeded" and refused.result["reference_profile"] == "built"
    assert stored.result["reference_profile"] == "built"  # nothing was stored the first time
    assert refused.result["features"] == stored.result["features"]
    assert DriftReferenceProfile.objects.count() == 1
    assert list(artifact_store.staging_dir().iterdir()) == []  # no staged file left behind

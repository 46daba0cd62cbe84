"""Job services: who may queue what, the worker's conditional transitions, immutability."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from common.errors import Conflict, Forbidden, ValidationFailed
from explainability import services
from explainability.models import Job
from governance.models import AuditEvent
from tests import factories
from tests.integration import jobdata

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(personas):
    eng = personas["engineer"]
    df = jobdata.credit(n=120)
    dv = jobdata.upload_dataset(eng, df)
    mv = jobdata.register(eng, jobdata.fit("logreg", df), training=dv)
    return {"eng": eng, "df": df, "dv": dv, "mv": mv, "personas": personas}


def _start(setup, actor=None, kind="shap", **kw):
    kw.setdefault("dataset", setup["dv"])
    return services.job_start(actor=actor or setup["eng"], version=setup["mv"], kind=kind, **kw)


def _events(job, action=None):
    qs = AuditEvent.objects.filter(object_type="explainability.job", object_id=str(job.pk))
    return qs.filter(action=action) if action else qs


def test_owning_team_engineer_queues_a_job_recorded_once_and_sent_after_commit(
    setup, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(services, "_enqueue", sent.append)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = _start(setup, params={"sample_size": 10})

    assert job.status == "queued" and job.attempts == 0 and job.progress == 0
    assert job.artifact_sha256 == setup["mv"].artifact_sha256
    assert job.data_sha256 == setup["dv"].sha256
    assert job.params["sample_size"] == 10 and job.params["seed"] == 0  # defaults filled in
    assert [e.action for e in _events(job)] == ["explainability.job.queued"]
    assert _events(job).get().actor_id == setup["eng"].pk
    assert callbacks and sent == [job.pk]


def test_validator_of_another_team_may_start_a_challenger_analysis(setup):
    job = _start(setup, actor=setup["personas"]["validator"])
    assert job.created_by == setup["personas"]["validator"]


@pytest.mark.parametrize(
    "who, rule",
    [
        ("other_engineer", "owning team, validators and admins"),
        ("compliance", "owning team, validators and admins"),
        ("auditor", "Auditors have read-only access"),
    ],
)
def test_people_outside_the_rule_cannot_start_jobs(setup, who, rule):
    with pytest.raises(Forbidden) as refused:
        _start(setup, actor=setup["personas"][who])
    assert rule in refused.value.detail
    assert not Job.objects.exists()


def test_unknown_or_out_of_range_parameters_are_refused_by_name(setup):
    with pytest.raises(ValidationFailed, match="rows_to_explain"):
        _start(setup, params={"rows_to_explain": 5})
    with pytest.raises(ValidationFailed, match="background_method"):
        _start(setup, params={"background_method": "median"})
    with pytest.raises(ValidationFailed, match="label_column"):
        _start(setup, kind="fairness")
    assert not Job.objects.exists()


def test_parameters_may_tighten_fairness_thresholds_but_never_loosen_them(setup):
    with pytest.raises(ValidationFailed) as loose:
        _start(
            setup,
            kind="fairness",
            params={
                "label_column": "default",
                "thresholds": {"disparate_impact_ratio": {"min": 0.7}},
            },
        )
    assert "never loosen" in loose.value.detail and "0.7" in loose.value.detail
    job = _start(
        setup,
        kind="fairness",
        params={
            "label_column": "default",
            "thresholds": {"demographic_parity_difference": {"max": 0.05}},
        },
    )
    assert job.params["thresholds"] == {"demographic_parity_difference": {"max": 0.05}}


def test_drift_compares_with_the_training_data_unless_told_otherwise(setup):
    newer = jobdata.upload_dataset(setup["eng"], jobdata.credit(n=100, seed=5))
    job = _start(setup, kind="drift", dataset=newer)
    assert job.reference_dataset == setup["dv"]
    assert job.reference_sha256 == setup["dv"].sha256
    with pytest.raises(ValidationFailed, match="same as the data"):
        _start(setup, kind="drift", dataset=setup["dv"])


def test_drift_without_lineage_needs_a_reference(setup):
    orphan = jobdata.register(setup["eng"], jobdata.fit("logreg", setup["df"]), name="no-lineage")
    with pytest.raises(ValidationFailed, match="no training dataset"):
        services.job_start(actor=setup["eng"], version=orphan, kind="drift", dataset=setup["dv"])


def test_a_claim_runs_a_job_once_and_a_second_claim_gets_nothing(setup):
    job = _start(setup)
    claimed = services.job_claim(job_id=job.pk, worker="w1@host")
    again = services.job_claim(job_id=job.pk, worker="w2@host")

    assert claimed.status == "running" and claimed.attempts == 1 and claimed.worker == "w1@host"
    assert again is None
    assert Job.objects.get(pk=job.pk).worker == "w1@host"
    assert _events(job, "explainability.job.started").count() == 1


def test_a_silent_running_job_is_claimed_again_and_out_of_attempts_it_fails(setup, settings):
    settings.JOB_STALE_AFTER = 60
    job = _start(setup)
    for attempt in range(1, job.max_attempts + 1):
        assert services.job_claim(job_id=job.pk, worker=f"w{attempt}").attempts == attempt
        Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - dt.timedelta(seconds=61))
    assert services.job_claim(job_id=job.pk, worker="last") is None

    job.refresh_from_db()
    assert job.status == "failed" and job.error_code == "gave_up"
    assert f"gave up after {job.max_attempts} attempts (worker lost?)" in job.error_message
    assert _events(job, "explainability.job.failed").count() == 1


def test_a_fresh_heartbeat_keeps_a_running_job_from_being_claimed(setup):
    job = _start(setup)
    services.job_claim(job_id=job.pk, worker="w1")
    assert services.job_heartbeat(job_id=job.pk, attempt=1)
    assert services.job_claim(job_id=job.pk, worker="w2") is None


def test_a_restarted_worker_releases_the_jobs_its_previous_life_held(setup):
    job = _start(setup)
    services.job_claim(job_id=job.pk, worker="w1@host")
    assert services.job_release_orphans(worker="w1@host") == [job.pk]
    assert job.pk in services.jobs_to_recover()
    assert services.job_claim(job_id=job.pk, worker="w1@host").attempts == 2


def test_only_the_current_attempt_can_finish_a_job(setup):
    job = _start(setup)
    services.job_claim(job_id=job.pk, worker="w1")
    assert not services.job_succeed(job_id=job.pk, attempt=2, result={"x": 1})
    assert not services.job_fail(job_id=job.pk, attempt=2, code="x", message="no")
    assert services.job_succeed(job_id=job.pk, attempt=1, result={"x": 1}, files_dir="")
    job.refresh_from_db()
    assert (job.status, job.progress, job.result) == ("succeeded", 100, {"x": 1})
    assert _events(job, "explainability.job.succeeded").count() == 1


def test_a_finished_job_never_changes_in_code_or_in_the_database(setup):
    job = _start(setup)
    services.job_claim(job_id=job.pk, worker="w1")
    services.job_succeed(job_id=job.pk, attempt=1, result={"passed": True})
    job = Job.objects.get(pk=job.pk)

    job.result = {"passed": False}
    with pytest.raises(RuntimeError, match="never change"):
        job.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        Job.objects.filter(pk=job.pk).update(result={"passed": False})
    assert Job.objects.get(pk=job.pk).result == {"passed": True}


def test_a_transient_error_requeues_and_out_of_attempts_fails_with_the_reason(setup):
    job = _start(setup)
    services.job_claim(job_id=job.pk, worker="w1")
    assert services.job_requeue(job_id=job.pk, attempt=1, reason="storage hiccup")
    job.refresh_from_db()
    assert job.status == "queued"
    Job.objects.filter(pk=job.pk).update(max_attempts=2)
    services.job_claim(job_id=job.pk, worker="w1")
    assert not services.job_requeue(job_id=job.pk, attempt=2, reason="storage hiccup")
    job.refresh_from_db()
    assert job.status == "failed" and "storage hiccup" in job.error_message
    assert _events(job, "explainability.job.requeued").count() == 1


def test_cancel_a_queued_job_then_cancel_again_is_a_conflict(setup):
    job = _start(setup)
    cancelled = services.job_cancel(actor=setup["eng"], job=job)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    assert services.job_claim(job_id=job.pk, worker="w1") is None
    with pytest.raises(Conflict):
        services.job_cancel(actor=setup["eng"], job=job)
    assert _events(job, "explainability.job.cancelled").count() == 1


def test_a_running_attempt_cannot_store_a_result_after_the_job_was_cancelled(setup):
    job = _start(setup)
    services.job_claim(job_id=job.pk, worker="w1")
    services.job_cancel(actor=setup["eng"], job=job)
    assert not services.job_succeed(job_id=job.pk, attempt=1, result={"late": True})
    assert Job.objects.get(pk=job.pk).result is None


def test_another_validator_cannot_cancel_someone_elses_job(setup):
    job = _start(setup, actor=setup["personas"]["validator"])
    with pytest.raises(Forbidden, match="person who started a job"):
        services.job_cancel(actor=setup["personas"]["validator2"], job=job)
    assert services.job_cancel(actor=setup["personas"]["validator"], job=job).status == "cancelled"


def test_retry_creates_a_linked_job_and_the_failed_one_keeps_its_error(setup):
    job = _start(setup, params={"sample_size": 7})
    services.job_claim(job_id=job.pk, worker="w1")
    services.job_fail(job_id=job.pk, attempt=1, code="bad_input", message="Column 'x' is missing.")

    retry = services.job_retry(actor=setup["eng"], job=Job.objects.get(pk=job.pk))

    assert retry.retry_of_id == job.pk and retry.status == "queued"
    assert retry.params == Job.objects.get(pk=job.pk).params
    assert Job.objects.get(pk=job.pk).error_message == "Column 'x' is missing."
    assert _events(retry, "explainability.job.retried").get().payload["retry_of"] == job.pk
    with pytest.raises(Conflict, match=f"already retried as job {retry.pk}"):
        services.job_retry(actor=setup["eng"], job=Job.objects.get(pk=job.pk))


def test_a_running_or_succeeded_job_cannot_be_retried(setup):
    job = _start(setup)
    with pytest.raises(Conflict, match="only failed or cancelled"):
        services.job_retry(actor=setup["eng"], job=job)


def test_external_artifacts_and_datasets_cannot_be_analysed(setup):
    ext = factories.dataset(setup["eng"], name="external")
    from registry import services as registry_services

    dv = registry_services.dataset_version_register(
        actor=setup["eng"], dataset=ext, uri="s3://bucket/data.csv", sha256="a" * 64
    )
    with pytest.raises(ValidationFailed, match="only an external URI"):
        _start(setup, dataset=dv)


def test_progress_moves_with_finished_chunks(setup):
    job = _start(setup)
    services.job_claim(job_id=job.pk, worker="w1")
    services.job_set_progress(job_id=job.pk, attempt=1, progress=5, chunks_total=4)
    seen = []
    for _ in range(4):
        services.job_chunk_done(job_id=job.pk, attempt=1)
        seen.append(Job.objects.get(pk=job.pk).progress)
    assert seen == [27, 50, 72, 95]
    assert Job.objects.get(pk=job.pk).chunks_done == 4


def test_a_silent_chord_is_taken_over_once_in_the_same_attempt_and_a_live_one_never(
    setup, settings
):
    settings.JOB_STALE_AFTER = 60
    job = _start(setup)
    services.job_claim(job_id=job.pk, worker="planner")
    services.job_set_progress(job_id=job.pk, attempt=1, progress=5, chunks_total=3)

    assert not services.job_take_over_chunks(job_id=job.pk, attempt=1)  # chunks are alive
    assert job.pk not in services.jobs_to_recover()
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - dt.timedelta(seconds=61))
    assert job.pk in services.jobs_to_recover()  # silent a minute: no lease hides a lost chunk
    assert not services.job_take_over_chunks(job_id=job.pk, attempt=2)

    assert services.job_take_over_chunks(job_id=job.pk, attempt=1)
    assert not services.job_take_over_chunks(job_id=job.pk, attempt=1)  # the second worker
    after = Job.objects.get(pk=job.pk)
    assert (after.status, after.attempts, after.chunks_total) == ("running", 1, 3)
    assert services.job_claim(job_id=job.pk, worker="other") is None


def test_recovery_resends_a_lost_job_at_most_once_per_stale_window(setup, settings):
    settings.JOB_STALE_AFTER = 60
    job = _start(setup)
    services.job_claim(job_id=job.pk, worker="w1")
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - dt.timedelta(minutes=5))

    assert services.jobs_to_recover() == [job.pk]
    assert services.jobs_to_recover() == []
    Job.objects.filter(pk=job.pk).update(
        recovery_sent_at=timezone.now() - dt.timedelta(minutes=2)
    )
    assert services.jobs_to_recover() == [job.pk]


def test_every_status_write_goes_through_the_one_transition_and_its_table(setup):
    from django.db import transaction

    from common import workflow
    from explainability.choices import TRANSITIONS

    job = _start(setup)
    services.job_claim(job_id=job.pk, worker="w1")
    assert services.job_succeed(job_id=job.pk, attempt=1, result={"x": 1}, files_dir="")
    stale = Job.objects.get(pk=job.pk)
    stale.status = "running"  # a copy read before the job finished

    recorded: list[str] = []
    with pytest.raises(workflow.IllegalTransition) as exc, transaction.atomic():
        workflow.transition(stale, "failed", table=TRANSITIONS, record=recorded.append,
                            name=f"Job {job.pk}")

    # The status is re-read under the row lock: the copy's 'running' is not trusted.
    assert str(exc.value) == f"Job {job.pk} is succeeded; it cannot become failed."
    assert exc.value.status_code == 409 and recorded == []
    assert Job.objects.get(pk=job.pk).status == "succeeded"
    assert _events(job, "explainability.job.failed").count() == 0

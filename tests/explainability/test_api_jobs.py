"""Jobs API: wiring, permissions, serialisation and the shared contract checks."""

from __future__ import annotations

import pytest

from explainability import runtime, services
from explainability.models import Job
from governance.models import AuditEvent
from tests import contract
from tests.integration import jobdata

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_heartbeat(settings):
    # Inline runs inside the test transaction: the heartbeat thread must not wait on its lock.
    settings.JOB_HEARTBEAT_SECONDS = 3600


@pytest.fixture
def setup(personas, monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(services, "_enqueue", sent.append)
    eng = personas["engineer"]
    df = jobdata.credit(n=150)
    dv = jobdata.upload_dataset(eng, df)
    mv = jobdata.register(eng, jobdata.fit("gbm", df), training=dv)
    url = f"/api/v1/models/{mv.model.name}/versions/{mv.version}/jobs/"
    return {"eng": eng, "dv": dv, "mv": mv, "url": url, "sent": sent, "personas": personas}


def _payload(setup, **kw):
    return {"kind": "shap", "dataset": setup["dv"].ref, "params": {"sample_size": 20}, **kw}


def test_start_returns_202_queued_records_one_event_and_sends_after_commit(
    setup, client_for, django_capture_on_commit_callbacks
):
    client = client_for("engineer")
    before = AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(setup["url"], _payload(setup), format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    job = Job.objects.get(pk=body["id"])
    assert body["status"] == "queued" and body["progress"] == 0 and body["attempts"] == 0
    assert body["model_version"] == setup["mv"].ref and body["dataset"] == setup["dv"].ref
    assert body["artifact_sha256"] == setup["mv"].artifact_sha256
    assert body["url"].endswith(f"/api/v1/jobs/{job.pk}/") and body["result"] is None
    events = list(AuditEvent.objects.filter(seq__gt=before))
    assert [e.action for e in events] == ["explainability.job.queued"]
    assert events[0].actor_id == setup["eng"].pk and events[0].request_id
    assert setup["sent"] == [job.pk]


def test_contract_anonymous_auditor_and_outsider(setup, client_for):
    contract.assert_anonymous_401(setup["url"])
    contract.assert_anonymous_401(setup["url"], method="post", data=_payload(setup))
    contract.assert_auditor_403(client_for("auditor"), setup["url"], data=_payload(setup))
    outsider = client_for("other_engineer")
    assert outsider.get(setup["url"]).status_code == 404
    assert outsider.post(setup["url"], _payload(setup), format="json").status_code == 404
    assert not Job.objects.exists()


def test_a_compliance_officer_sees_jobs_but_may_not_start_one(setup, client_for):
    client = client_for("compliance")
    assert client.get(setup["url"]).status_code == 200
    response = client.post(setup["url"], _payload(setup), format="json")
    assert response.status_code == 403
    assert "owning team, validators and admins" in response.json()["detail"]


def test_a_validator_starts_a_job_on_another_teams_model(setup, client_for):
    response = client_for("validator").post(setup["url"], _payload(setup), format="json")
    assert response.status_code == 202
    assert response.json()["created_by"] == "validator"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"kind": "lime"}, "kind"),
        ({"dataset": "nope@1"}, "dataset"),
        ({"dataset": "not-a-ref"}, "dataset"),
        ({"params": {"unknown": 1}}, "params"),
        ({"kind": "fairness", "params": {}}, "params.label_column"),
    ],
)
def test_invalid_requests_are_400_naming_the_field(setup, client_for, payload, field):
    response = client_for("engineer").post(setup["url"], _payload(setup, **payload), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Job.objects.exists()


def test_the_same_idempotency_key_creates_one_job(setup, client_for):
    client = client_for("engineer")
    first = client.post(setup["url"], _payload(setup), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post(setup["url"], _payload(setup), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and Job.objects.count() == 1


def test_job_detail_shows_result_files_and_timings_after_an_inline_run(
    setup, client_for, no_heartbeat
):
    client = client_for("engineer")
    job_id = client.post(setup["url"], _payload(setup), format="json").json()["id"]
    runtime.run_inline(job_id, worker="test@host")

    body = client.get(f"/api/v1/jobs/{job_id}/").json()

    assert body["status"] == "succeeded" and body["progress"] == 100 and body["attempts"] == 1
    assert body["worker"] == "test@host" and body["error"] is None
    assert body["timings"]["run_seconds"] >= 0 and body["timings"]["queue_seconds"] >= 0
    assert body["result"]["inputs"]["artifact_sha256"] == setup["mv"].artifact_sha256
    assert body["result"]["feature_importance"][0]["mean_abs_shap"] > 0
    assert body["summary"]["explainer"] == "TreeExplainer"
    svg = client.get(body["files"]["beeswarm"])
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(svg.streaming_content)
    assert "default-src 'none'" in svg["Content-Security-Policy"]
    npz = client.get(body["files"]["values"])
    assert npz.status_code == 200 and "attachment" in npz["Content-Disposition"]


def test_files_are_404_for_unlisted_names_and_for_people_who_cannot_see_the_model(
    setup, client_for, no_heartbeat
):
    client = client_for("engineer")
    job_id = client.post(setup["url"], _payload(setup), format="json").json()["id"]
    runtime.run_inline(job_id)
    assert client.get(f"/api/v1/jobs/{job_id}/files/plan.json").status_code == 404
    assert client.get(f"/api/v1/jobs/{job_id}/files/..%2Fsecret").status_code == 404
    outsider = client_for("other_engineer")
    assert outsider.get(f"/api/v1/jobs/{job_id}/").status_code == 404
    assert outsider.get(f"/api/v1/jobs/{job_id}/files/shap_bar.svg").status_code == 404
    assert client_for("auditor").get(f"/api/v1/jobs/{job_id}/files/shap_bar.svg").status_code == 200


def test_a_failed_job_shows_its_code_and_sentence_but_never_the_traceback(
    setup, client_for, no_heartbeat, caplog
):
    client = client_for("engineer")
    bad = jobdata.upload_dataset(setup["eng"], jobdata.credit(n=50).drop(columns=["income"]))
    job_id = client.post(setup["url"], _payload(setup, dataset=bad.ref), format="json").json()["id"]
    with caplog.at_level("WARNING", logger="explainability"):
        runtime.run_inline(job_id)

    response = client.get(f"/api/v1/jobs/{job_id}/")
    listed = client.get(setup["url"])

    error = response.json()["error"]
    assert error == {"code": "bad_input", "message": error["message"]}
    assert "'income'" in error["message"] and error["message"].endswith(".")
    for body in (response.content.decode(), listed.content.decode()):
        assert "Traceback" not in body and ".py" not in body
    # The traceback is kept where the platform team looks: the row (admin) and the server log.
    assert "Traceback" in Job.objects.get(pk=job_id).error_detail
    assert any("Traceback" in r.getMessage() and "JobInputError" in r.getMessage()
               for r in caplog.records)


def test_the_admin_shows_a_failed_jobs_technical_detail(setup, client_for, no_heartbeat):
    from django.test import Client

    client = client_for("engineer")
    bad = jobdata.upload_dataset(setup["eng"], jobdata.credit(n=50).drop(columns=["income"]))
    job_id = client.post(setup["url"], _payload(setup, dataset=bad.ref), format="json").json()["id"]
    runtime.run_inline(job_id)
    admin = Client()
    admin.force_login(setup["personas"]["admin_user"])

    page = admin.get(f"/admin/explainability/job/{job_id}/change/")

    assert page.status_code == 200
    assert "Traceback" in page.content.decode() and "JobInputError" in page.content.decode()


def test_cancel_and_retry_endpoints(setup, client_for):
    client = client_for("engineer")
    job_id = client.post(setup["url"], _payload(setup), format="json").json()["id"]

    contract.assert_auditor_403(client_for("auditor"), f"/api/v1/jobs/{job_id}/cancel/")
    cancelled = client.post(f"/api/v1/jobs/{job_id}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.post(f"/api/v1/jobs/{job_id}/cancel/").status_code == 409

    retry = client.post(f"/api/v1/jobs/{job_id}/retry/")
    assert retry.status_code == 202
    assert retry.json()["retry_of"] == job_id and retry.json()["status"] == "queued"
    assert client.get(f"/api/v1/jobs/{job_id}/").json()["retried_by"] == retry.json()["id"]
    assert client_for("other_engineer").post(f"/api/v1/jobs/{job_id}/retry/").status_code == 404


def test_list_per_version_filters_by_kind_and_status_with_bounded_queries(setup, client_for):
    client = client_for("engineer")
    client.post(setup["url"], _payload(setup), format="json")
    client.post(
        setup["url"],
        _payload(setup, kind="fairness", params={"label_column": "default"}),
        format="json",
    )

    shap_only = client.get(setup["url"] + "?kind=shap").json()
    assert [j["kind"] for j in shap_only["results"]] == ["shap"]
    assert "result" not in shap_only["results"][0]
    assert client.get(setup["url"] + "?status=succeeded").json()["count"] == 0
    assert client.get(setup["url"] + "?status=bogus").status_code == 400

    def grow():
        for _ in range(4):
            client.post(setup["url"], _payload(setup), format="json")

    contract.assert_list_queries_bounded(client, setup["url"], grow)
    contract.assert_list_queries_bounded(client, "/api/v1/jobs/", grow)


def test_all_jobs_list_shows_only_visible_models(setup, client_for):
    client_for("engineer").post(setup["url"], _payload(setup), format="json")
    assert client_for("engineer").get("/api/v1/jobs/").json()["count"] == 1
    assert client_for("auditor").get("/api/v1/jobs/").json()["count"] == 1
    assert client_for("other_engineer").get("/api/v1/jobs/").json()["count"] == 0


def _page(setup, job_id: int) -> str:
    from django.test import Client
    from django.urls import reverse

    browser = Client()
    browser.force_login(setup["eng"])
    page = browser.get(reverse("explainability:job-detail", args=[job_id]))
    assert page.status_code == 200
    return page.content.decode()


def test_a_chunked_job_records_who_ran_each_chunk_in_its_result_and_on_its_page(
    setup, client_for, no_heartbeat
):
    """The chunks of one job, run by two (named) workers: the result lists one record per chunk
    with its worker and times, a chunk sent twice is recorded once, and the job page says how
    the chunks were shared out."""
    client = client_for("engineer")
    job_id = client.post(setup["url"], _payload(setup, params={
        "sample_size": 40, "chunk_rows": 10}), format="json").json()["id"]
    claimed = services.job_claim(job_id=job_id, worker="planner@host")

    def dispatch(job, attempt, specs):
        for spec in specs:
            runtime.run_chunk(job.pk, attempt, spec, requeue=None,
                              worker=f"w{spec['index'] % 2}@host")
        runtime.run_chunk(job.pk, attempt, specs[0], requeue=None, worker="late@host")  # again
        runtime.run_merge(job.pk, attempt, specs, requeue=None)

    runtime.run_attempt(claimed, dispatch=dispatch)
    body = client.get(f"/api/v1/jobs/{job_id}/").json()

    assert body["status"] == "succeeded" and body["result"]["chunks"] == 4
    runs = body["result"]["chunk_runs"]
    assert [(r["index"], r["worker"]) for r in runs] == [
        (0, "w0@host"), (1, "w1@host"), (2, "w0@host"), (3, "w1@host")]
    for run in runs:
        assert run["started_at"] <= run["finished_at"] and run["started_at"].endswith("+00:00")
        assert run["seconds"] >= 0 and run["cpu_seconds"] >= 0 and isinstance(run["loaded"], list)
    page = _page(setup, job_id)
    assert "4 on 2 workers (w0@host: 0, 2; w1@host: 1, 3)" in page
    assert "two or more side by side for 0.0 s" in page  # one process ran them one by one
    assert "late@host" not in page


def test_an_unchunked_job_has_no_chunk_records(setup, client_for, no_heartbeat):
    client = client_for("engineer")
    job_id = client.post(setup["url"], _payload(setup), format="json").json()["id"]
    runtime.run_inline(job_id)
    assert "chunk_runs" not in client.get(f"/api/v1/jobs/{job_id}/").json()["result"]
    assert 'data-testid="chunk-runs"' not in _page(setup, job_id)

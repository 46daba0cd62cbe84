"""Job pages: start from a version page, live status, a failed job's error and retry, results."""

from __future__ import annotations

import pytest
from django.conf import settings

from explainability import services as jobs
from explainability.models import Job
from tests.portal.conftest import write_forms

pytestmark = pytest.mark.django_db

BAR_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="5" height="5"/></svg>'


def _running(actor, version, dataset, kind="shap", params=None) -> Job:
    job = jobs.job_start(actor=actor, version=version, kind=kind, dataset=dataset, params=params)
    return jobs.job_claim(job_id=job.pk, worker="test-worker")


def _shap_done(actor, version, dataset) -> Job:
    job = _running(actor, version, dataset)
    files_dir = f"{job.pk}/attempt-1"
    out = settings.JOB_OUTPUT_ROOT / files_dir
    out.mkdir(parents=True)
    (out / "shap_bar.svg").write_text(BAR_SVG)
    (out / "shap_beeswarm.svg").write_text(BAR_SVG)
    result = {
        "explainer": "linear", "rows_explained": 2, "rows_total": 2,
        "feature_importance": [
            {"feature": "income", "mean_abs_shap": 0.4, "mean_shap": -0.1},
            {"feature": "debt_ratio", "mean_abs_shap": 0.2, "mean_shap": 0.05},
        ],
        "files": {"values": "shap_values.npz", "bar": "shap_bar.svg", "beeswarm": "shap_beeswarm.svg"},
    }
    assert jobs.job_succeed(job_id=job.pk, attempt=job.attempts, result=result, files_dir=files_dir)
    return Job.objects.get(pk=job.pk)


def test_engineer_starts_a_shap_job_from_the_version_page(web_for, registry):
    web = web_for("engineer")
    html = web.get("/models/credit-default/v1/").content.decode()
    assert 'data-testid="job-start-form"' in html
    response = web.post("/models/credit-default/v1/jobs/",
                        {"kind": "shap", "dataset": registry["loans"].pk})
    assert response.status_code == 302
    job = Job.objects.get()
    assert (job.kind, job.status, job.model_version_id) == ("shap", "queued", registry["v1"].pk)
    page = web.get("/models/credit-default/v1/").content.decode()
    assert f'data-testid="job-status-{job.pk}"' in page
    assert 'hx-trigger="every 2s"' in page  # the page watches the job live


def test_a_fairness_job_without_a_label_column_shows_the_error_next_to_it(web_for, registry):
    response = web_for("engineer").post(
        "/models/credit-default/v1/jobs/",
        {"kind": "fairness", "dataset": registry["loans"].pk, "sensitive_attributes": "b"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_label_column-error"' in html
    assert "params.label_column" not in html and "needs “Label column (fairness)”" in html
    assert not Job.objects.exists()


def test_auditor_sees_no_job_controls_and_cannot_start_one(web_for, registry):
    html = web_for("auditor").get("/models/credit-default/v1/").content.decode()
    assert 'data-testid="job-start-form"' not in html and write_forms(html) == []
    response = web_for("auditor").post("/models/credit-default/v1/jobs/",
                                       {"kind": "shap", "dataset": registry["loans"].pk})
    assert response.status_code == 403
    assert "Auditors have read-only access" in response.content.decode()
    assert not Job.objects.exists()


def test_status_fragment_polls_until_finished_then_reloads_the_page(web_for, registry, personas):
    job = _running(personas["engineer"], registry["v1"], registry["loans"])
    web = web_for("engineer")
    running = web.get(f"/jobs/{job.pk}/status/?was=queued", HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 2s"' in running.content.decode()
    assert "HX-Refresh" not in running
    jobs.job_fail(job_id=job.pk, attempt=job.attempts, code="bad_input",
                  message="Column 'label' is missing from loans@1.")
    done = web.get(f"/jobs/{job.pk}/status/?was=running", HTTP_HX_REQUEST="true")
    assert done["HX-Refresh"] == "true"
    assert "every 2s" not in done.content.decode()


def test_failed_job_shows_its_error_and_can_be_retried(web_for, registry, personas):
    job = _running(personas["engineer"], registry["v1"], registry["loans"])
    jobs.job_fail(job_id=job.pk, attempt=job.attempts, code="time_limit",
                  message="The job ran longer than 'the limit' and was stopped.",
                  detail="SoftTimeLimitExceeded: 600")
    web = web_for("engineer")
    html = web.get(f"/jobs/{job.pk}/").content.decode()
    assert "The job ran longer than &#x27;the limit&#x27; and was stopped." in html
    assert "(time_limit)" in html
    assert "SoftTimeLimitExceeded" not in html  # the technical detail stays in the log and the admin
    assert 'data-testid="retry-job"' in html and 'data-testid="edit-and-rerun"' not in html
    response = web.post(f"/jobs/{job.pk}/retry/")
    new = Job.objects.get(retry_of=job)
    assert response.status_code == 302 and response["Location"] == f"/jobs/{new.pk}/"
    assert 'data-testid="retry-job"' not in web.get(f"/jobs/{job.pk}/").content.decode()
    auditor = web_for("auditor").get(f"/jobs/{job.pk}/").content.decode()
    assert "the limit" in auditor and write_forms(auditor) == []
    assert 'data-testid="edit-and-rerun"' not in auditor


def test_version_page_shows_shap_plots_and_top_features(web_for, registry, personas):
    job = _shap_done(personas["engineer"], registry["v1"], registry["loans"])
    html = web_for("validator").get("/models/credit-default/v1/").content.decode()
    assert f'src="/jobs/{job.pk}/files/shap_bar.svg"' in html
    assert f'src="/jobs/{job.pk}/files/shap_beeswarm.svg"' in html
    assert html.index(">income<") < html.index(">debt_ratio<")
    plot = web_for("validator").get(f"/jobs/{job.pk}/files/shap_bar.svg")
    assert plot.status_code == 200 and plot["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(plot.streaming_content)


def test_job_files_are_only_the_listed_svgs_and_only_for_visible_models(web_for, registry, personas):
    job = _shap_done(personas["engineer"], registry["v1"], registry["loans"])
    assert web_for("validator").get(f"/jobs/{job.pk}/files/shap_values.npz").status_code == 404
    assert web_for("validator").get(f"/jobs/{job.pk}/files/..%2F..%2Fsecret.svg").status_code == 404
    assert web_for("other_engineer").get(f"/jobs/{job.pk}/files/shap_bar.svg").status_code == 404


def test_failed_jobs_list_is_filtered(web_for, registry, personas):
    job = _running(personas["engineer"], registry["v1"], registry["loans"])
    jobs.job_fail(job_id=job.pk, attempt=job.attempts, code="x", message="Broke.")
    html = web_for("validator").get("/jobs/?status=failed").content.decode()
    assert f'href="/jobs/{job.pk}/"' in html
    assert f'href="/jobs/{job.pk}/"' not in web_for("validator").get("/jobs/?status=succeeded").content.decode()

"""A job's inputs are checked against the dataset's columns when it is requested (the form says
which column and lists the dataset's), and a job that failed on its input offers "Edit and run
again" with a prefilled form instead of a retry with the same inputs."""

from __future__ import annotations

import pytest

from explainability import services as jobs
from explainability.models import Job
from tests.portal.test_portal_jobs import _running

pytestmark = pytest.mark.django_db

URL = "/models/credit-default/v1/jobs/"


def test_an_unknown_label_column_is_refused_in_the_form_naming_the_columns(web_for, registry):
    response = web_for("engineer").post(URL, {
        "kind": "fairness", "dataset": registry["loans"].pk, "label_column": "defaulted",
        "sensitive_attributes": "b",
    })
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_label_column-error"' in html
    assert ("Dataset loans@1 has no column &#x27;defaulted&#x27; (label column); its columns "
            "are: a, b, label.") in html
    assert "params." not in html
    assert not Job.objects.exists()


def test_unknown_sensitive_attributes_are_refused_next_to_their_field(web_for, registry):
    response = web_for("engineer").post(URL, {
        "kind": "fairness", "dataset": registry["loans"].pk, "label_column": "label",
        "sensitive_attributes": "sex, age_band",
    })
    html = response.content.decode()
    assert response.status_code == 400 and 'id="id_sensitive_attributes-error"' in html
    assert "has no columns &#x27;sex&#x27;, &#x27;age_band&#x27; (sensitive attributes)" in html
    assert "its columns are: a, b, label." in html


def test_a_job_that_failed_on_its_input_offers_edit_and_run_again(web_for, registry, personas):
    job = _running(personas["engineer"], registry["v1"], registry["loans"], kind="fairness",
                   params={"label_column": "label", "sensitive_attributes": ["b"],
                           "min_group_size": 5})
    jobs.job_fail(job_id=job.pk, attempt=job.attempts, code="bad_input",
                  message="Column 'label' holds no positive outcome.")
    web = web_for("engineer")
    html = web.get(f"/jobs/{job.pk}/").content.decode()
    assert 'data-testid="edit-and-rerun"' in html and 'data-testid="retry-job"' not in html
    assert f'href="{URL}?from={job.pk}"' in html

    form = web.get(f"{URL}?from={job.pk}").content.decode()
    assert "Edit and run again on credit-default@1" in form and 'data-testid="edit-source"' in form
    assert 'name="label_column"' in form and 'value="label"' in form
    assert 'value="b"' in form  # the sensitive attributes, prefilled
    response = web.post(URL, {"kind": "fairness", "dataset": registry["loans"].pk,
                              "label_column": "a", "sensitive_attributes": "b",
                              "carried": _carried(form)})
    assert response.status_code == 302
    new = Job.objects.exclude(pk=job.pk).get()
    assert new.params["label_column"] == "a" and new.params["min_group_size"] == 5
    # the auditor reads the failure but is offered nothing
    auditor = web_for("auditor").get(f"/jobs/{job.pk}/").content.decode()
    assert 'data-testid="edit-and-rerun"' not in auditor
    assert web_for("auditor").get(f"{URL}?from={job.pk}").status_code == 403
    assert web_for("other_engineer").get(f"{URL}?from={job.pk}").status_code == 404


def _carried(html: str) -> str:
    import html as html_lib
    import re

    found = re.search(r'name="carried" value="([^"]*)"', html) or re.search(
        r'value="([^"]*)" name="carried"', html)
    assert found, "the form carries the job's other parameters"
    return html_lib.unescape(found.group(1))


def test_thresholds_read_as_words_on_the_job_page(web_for, registry, personas):
    job = _running(personas["engineer"], registry["v1"], registry["loans"], kind="fairness",
                   params={"label_column": "label", "sensitive_attributes": ["b"],
                           "thresholds": {"demographic_parity_difference": {"max": 0.05}}})
    result = {"passed": True, "attributes": {"b": {"groups": [], "metrics": {
        "demographic_parity_difference": {"value": 0.03, "threshold": {"max": 0.05},
                                          "passed": True},
        "disparate_impact_ratio": {"value": 0.93, "threshold": {"min": 0.8}, "passed": True},
        "equalized_odds_difference": {"value": 0.01, "threshold": None, "passed": None},
    }}}, "intersections": {}, "warnings": []}
    assert jobs.job_succeed(job_id=job.pk, attempt=job.attempts, result=result, files_dir="")
    html = web_for("auditor").get(f"/jobs/{job.pk}/").content.decode()
    assert "at most 0.05" in html and "at least 0.80" in html
    assert "demographic parity difference at most 0.05" in html  # the job's own parameters
    assert "{&#x27;max&#x27;" not in html and "{'max'" not in html


def test_threshold_text():
    from governance.fairness import threshold_text

    assert threshold_text({"max": 0.1}) == "at most 0.10"
    assert threshold_text({"min": 0.8}) == "at least 0.80"
    assert threshold_text({"min": 0.8, "max": 1.25}) == "between 0.80 and 1.25"
    assert threshold_text(None) == "—" and threshold_text({}) == "—"
    assert threshold_text({"max": 0.005}) == "at most 0.005"

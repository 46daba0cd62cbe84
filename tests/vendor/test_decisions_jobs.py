"""Fairness and outcome analysis on recorded decisions, through the API and the worker's code path
(services.job_start + runtime), compared with fairlearn and scikit-learn on the same rows."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score, roc_auc_score

from explainability import runtime, services
from explainability.models import Job
from governance.models import AuditEvent
from tests import factories
from tests.vendor import compas
from tests.vendor.helpers import params, run, start_via_api, upload

pytestmark = pytest.mark.django_db

def _group(block: dict, name: str) -> dict:
    return next(g for g in block["groups"] if g["group"] == name)


def test_vendor_decisions_fairness_equals_fairlearn_and_sklearn_on_the_filtered_rows(
    personas, client_for, vendor_version, df
):
    dv = upload(personas["engineer"], df)
    job = run(client_for("engineer"), vendor_version, dv, params())

    assert job.status == "succeeded", job.error_message
    assert job.artifact_sha256 == "" and job.data_sha256 == dv.sha256
    result = job.result
    rows = compas.filtered(df)
    y_true = rows.two_year_recid.to_numpy()
    y_pred = rows.score_text.isin(["Medium", "High"]).to_numpy().astype(int)
    score = rows.decile_score.to_numpy()

    # The analysis population is explicit and recorded.
    population = result["population"]
    assert population["rows_before"] == len(df) and population["rows_after"] == len(rows)
    assert [f["filter"] for f in population["filters"]] == compas.FILTERS
    assert population["filters"][-1]["rows_after"] == len(rows)
    assert result["decision_rule"]["mode"] == "mapping"
    assert result["mode"] == "decisions" and result["inputs"]["artifact_sha256"] is None

    metrics = {"count": count, "selection_rate": selection_rate,
               "true_positive_rate": true_positive_rate,
               "false_positive_rate": false_positive_rate,
               "false_negative_rate": false_negative_rate,
               "precision": lambda t, p: precision_score(t, p, zero_division=0),
               "accuracy": accuracy_score}
    for attribute in ("race", "sex"):
        frame = MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred,
                            sensitive_features=rows[attribute])
        block = result["attributes"][attribute]
        assert {g["group"] for g in block["groups"]} == set(frame.by_group.index)
        for group, expected in frame.by_group.iterrows():
            got = _group(block, group)
            for name in metrics:
                assert got[name] == pytest.approx(expected[name]), (attribute, group, name)
        m = block["metrics"]
        sf = rows[attribute]
        assert m["demographic_parity_difference"]["value"] == pytest.approx(
            demographic_parity_difference(y_true, y_pred, sensitive_features=sf))
        assert m["demographic_parity_ratio"]["value"] == pytest.approx(
            demographic_parity_ratio(y_true, y_pred, sensitive_features=sf))
        assert m["disparate_impact_ratio"]["value"] == pytest.approx(
            demographic_parity_ratio(y_true, y_pred, sensitive_features=sf))
        assert m["equalized_odds_difference"]["value"] == pytest.approx(
            equalized_odds_difference(y_true, y_pred, sensitive_features=sf))
        assert m["true_positive_rate_difference"]["value"] == pytest.approx(
            frame.difference()["true_positive_rate"])
        assert m["false_positive_rate_difference"]["value"] == pytest.approx(
            frame.difference()["false_positive_rate"])
        # Verdicts by the default policy (the model is not risk-assessed yet).
        dpd = m["demographic_parity_difference"]
        assert dpd["threshold"] == {"max": 0.1} and dpd["passed"] == (dpd["value"] <= 0.1)

    both = rows[["race", "sex"]]
    inter = result["intersections"]["race & sex"]["metrics"]
    assert inter["demographic_parity_difference"]["value"] == pytest.approx(
        demographic_parity_difference(y_true, y_pred, sensitive_features=both))
    assert inter["equalized_odds_difference"]["value"] == pytest.approx(
        equalized_odds_difference(y_true, y_pred, sensitive_features=both))
    assert result["passed"] == all(
        m["passed"] for section in ("attributes", "intersections")
        for entry in result[section].values() for m in entry["metrics"].values()
        if m["threshold"] is not None
    )

    # Outcome analysis / back-testing: accuracy, AUC on the score, calibration by decile, per group.
    outcomes = result["outcomes"]
    overall = outcomes["overall"]
    assert overall["count"] == len(rows)
    assert overall["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert overall["auc"] == pytest.approx(roc_auc_score(y_true, score))
    assert overall["base_rate"] == pytest.approx(y_true.mean())
    for race, part in rows.groupby("race"):
        got = _group({"groups": outcomes["groups"]["race"]}, race)
        assert got["count"] == len(part)
        assert got["accuracy"] == pytest.approx(
            accuracy_score(part.two_year_recid, part.score_text.isin(["Medium", "High"])))
        assert got["auc"] == pytest.approx(roc_auc_score(part.two_year_recid, part.decile_score))
    edges = np.unique(np.quantile(score, np.linspace(0, 1, 11)))
    assert [b["lower"] for b in overall["calibration"]] == pytest.approx(list(edges[:-1]))
    bins = np.clip(np.searchsorted(edges[1:-1], score, side="right"), 0, len(edges) - 2)
    for b in overall["calibration"]:
        mask = bins == b["bin"] - 1
        assert b["count"] == mask.sum()
        assert b["observed_rate"] == pytest.approx(y_true[mask].mean())
    assert sum(b["count"] for b in overall["calibration"]) == len(rows)
    # A 1-10 decile score is not a probability: no calibration error is claimed for it.
    assert overall["expected_calibration_error"] is None and "not a probability" in outcomes["note"]

    actions = list(AuditEvent.objects.filter(object_id=str(job.pk), object_type="explainability.job")
                   .values_list("action", flat=True).order_by("id"))
    assert actions == ["explainability.job.queued", "explainability.job.started",
                       "explainability.job.succeeded"]


def test_a_filter_that_removes_every_row_fails_the_job_with_a_message(
    personas, client_for, vendor_version, df
):
    dv = upload(personas["engineer"], df)
    job = run(client_for("engineer"), vendor_version, dv,
              params(filters=["days_b_screening_arrest >= -30", "days_b_screening_arrest > 500"]))
    assert job.status == "failed" and job.error_code == "bad_input"
    assert "removed every row" in job.error_message
    assert "days_b_screening_arrest > 500 (left 0)" in job.error_message
    assert job.result is None


def test_prediction_values_outside_the_declared_mapping_fail_naming_them(
    personas, client_for, vendor_version, df
):
    dv = upload(personas["engineer"], df)
    job = run(client_for("engineer"), vendor_version, dv,
              params(positive_values=["High"], negative_values=["Low"]))
    assert job.status == "failed" and job.error_code == "bad_input"
    assert "'Medium'" in job.error_message and "score_text" in job.error_message
    assert "'Low'" not in job.error_message


def test_columns_the_parameters_name_but_the_data_lacks_fail_naming_each_and_its_role(
    personas, client_for, vendor_version, df
):
    dv = upload(personas["engineer"], df.drop(columns=["two_year_recid"]))
    client = client_for("engineer")
    # The registry knows the file's columns: the request is refused, naming each and its role.
    url = f"/api/v1/models/{vendor_version.model.name}/versions/{vendor_version.version}/jobs/"
    refused = client.post(url, {"kind": "fairness", "dataset": dv.ref,
                                "params": params(score_column="raw_score")}, format="json")
    assert refused.status_code == 400
    errors = refused.json()["errors"]
    assert "'two_year_recid' (outcome column)" in errors["params.outcome_column"][0]
    assert "'raw_score' (score column)" in errors["params.score_column"][0]
    # A file whose columns the registry does not know reaches the worker, which fails the same.
    type(dv).objects.filter(pk=dv.pk).update(schema=[])
    job = run(client, vendor_version, dv, params(score_column="raw_score"))
    assert job.status == "failed" and job.error_code == "bad_input"
    assert "'two_year_recid' (outcome column)" in job.error_message
    assert "'raw_score' (score column)" in job.error_message


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"prediction_column": None}, "params.prediction_column", "required"),
        ({"outcome_column": "score_text"}, "params.outcome_column", "differ"),
        ({"threshold": 0.5}, "params.threshold", "not both"),
        ({"positive_values": None}, "params.negative_values", "positive_values"),
        ({"filters": ["days_b_screening_arrest => 3"]}, "params.filters", "not understood"),
        ({"positive_values": "High"}, "params.positive_values", "list"),
        ({"label_column": "x"}, "params", "Unknown parameter"),
        ({"mode": "replay"}, "params.mode", "model, decisions"),
    ],
)
def test_parameter_shape_errors_are_refused_at_submission(
    personas, client_for, vendor_version, df, change, field, words
):
    dv = upload(personas["engineer"], df)
    p = {k: v for k, v in {**params(), **change}.items() if v is not None}
    url = "/api/v1/models/recidivism-tool/versions/1/jobs/"
    response = client_for("engineer").post(
        url, {"kind": "fairness", "dataset": dv.ref, "params": p}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert field in body["errors"] and words in body["detail"]
    assert not Job.objects.exists()


def test_a_vendor_version_cannot_be_scored_so_shap_and_model_fairness_are_refused(
    personas, client_for, vendor_version, df
):
    dv = upload(personas["engineer"], df)
    url = "/api/v1/models/recidivism-tool/versions/1/jobs/"
    client = client_for("engineer")
    for body in ({"kind": "shap", "dataset": dv.ref},
                 {"kind": "fairness", "dataset": dv.ref,
                  "params": {"label_column": "two_year_recid"}}):
        response = client.post(url, body, format="json")
        assert response.status_code == 400
        assert "without an artifact" in response.json()["detail"]
        assert "decisions" in response.json()["detail"]


def test_auditors_cannot_start_a_decisions_job(personas, client_for, vendor_version, df):
    dv = upload(personas["engineer"], df)
    response = client_for("auditor").post(
        "/api/v1/models/recidivism-tool/versions/1/jobs/",
        {"kind": "fairness", "dataset": dv.ref, "params": params()}, format="json",
    )
    assert response.status_code == 403 and not Job.objects.exists()


def test_an_in_house_version_audits_its_recorded_scores_without_loading_its_model(
    personas, client_for, df
):
    eng = personas["engineer"]
    model = factories.model(eng, name="recid-inhouse")
    version = factories.version(eng, model)
    dv = upload(eng, df)
    job = run(client_for("engineer"), version, dv, {
        "mode": "decisions", "prediction_column": "decile_score", "threshold": 5,
        "outcome_column": "two_year_recid", "filters": ["is_recid != -1"],
    })
    assert job.status == "succeeded", job.error_message
    rows = df[df.is_recid != -1]
    assert job.artifact_sha256 == ""
    assert job.result["decision_rule"] == {
        "source": "decisions", "prediction_column": "decile_score", "mode": "score",
        "threshold": 5.0, "outcome_column": "two_year_recid", "outcome_positive_label": 1,
    }
    sex = job.result["attributes"]["sex"]
    for value, part in rows.groupby("sex"):
        assert _group(sex, value)["selection_rate"] == pytest.approx((part.decile_score >= 5).mean())
    # The score column defaults to the prediction itself when it is a score.
    assert job.result["outcomes"]["overall"]["auc"] == pytest.approx(
        roc_auc_score(rows.two_year_recid, rows.decile_score))


def test_a_parquet_file_in_chunks_gives_the_same_result_as_one_pass(
    personas, client_for, vendor_version, df, settings
):
    dv = upload(personas["engineer"], df, fmt="parquet")
    client = client_for("engineer")
    whole = run(client, vendor_version, dv, params())
    assert whole.status == "succeeded", whole.error_message

    settings.JOB_FAIRNESS_CHUNK_ROWS = 400  # the chord path: one Parquet row group per chunk
    job = start_via_api(client, vendor_version, dv, params())
    claimed = services.job_claim(job_id=job.pk, worker="test")
    dispatched: list[dict] = []

    def dispatch(job, attempt, specs):
        dispatched.extend(specs)
        for spec in specs:
            runtime.run_chunk(job.pk, attempt, spec, requeue=None)
        runtime.run_merge(job.pk, attempt, specs, requeue=None)

    runtime.run_attempt(claimed, dispatch=dispatch)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error_message
    assert len(dispatched) == 4 and job.result["chunks"] == 4 and whole.result["chunks"] == 1
    for key in ("attributes", "intersections", "population", "outcomes", "passed", "metrics"):
        assert job.result[key] == whole.result[key], key


def test_drift_on_recorded_inputs_and_scores_runs_for_a_vendor_version(
    personas, client_for, vendor_version, df
):
    eng = personas["engineer"]
    before = upload(eng, df)
    later = compas.table(seed=12).assign(decile_score=lambda d: np.minimum(d.decile_score + 2, 10))
    after = upload(eng, later)
    response = client_for("engineer").post(
        "/api/v1/models/recidivism-tool/versions/1/jobs/",
        {"kind": "drift", "dataset": after.ref, "reference_dataset": before.ref,
         "params": {"features": ["decile_score", "days_b_screening_arrest", "race"],
                    "categorical": ["race"], "shap_importance": False}},
        format="json",
    )
    assert response.status_code == 202, response.json()
    job = runtime.run_inline(response.json()["id"])
    assert job.status == "succeeded", job.error_message
    features = {f["feature"]: f for f in job.result["features"]}
    assert features["decile_score"]["verdict"] == "drift"
    assert job.result["inputs"]["artifact_sha256"] is None


def test_the_portal_shows_the_population_decision_rule_and_outcome_analysis(
    personas, client_for, vendor_version, df
):
    from django.test import Client
    from django.urls import reverse

    dv = upload(personas["engineer"], df)
    job = run(client_for("engineer"), vendor_version, dv, params())
    browser = Client()
    browser.force_login(personas["validator"])
    page = browser.get(reverse("explainability:job-detail", args=[job.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="decisions-mode"' in html and "recorded decisions" in html
    assert "days_b_screening_arrest &lt;= 30" in html
    rows = job.result["population"]
    assert f"{rows['rows_after']} of {rows['rows_before']} rows analysed" in html
    assert f"AUC {job.result['outcomes']['overall']['auc']:.3f}" in html
    assert 'data-testid="calibration"' in html and 'data-testid="outcomes-race"' in html
    assert "Medium, High" in html


def test_a_one_pass_decisions_job_reports_where_its_time_went(personas, client_for,
                                                              vendor_version, df):
    job = run(client_for("engineer"), vendor_version, upload(personas["engineer"], df), params())

    assert job.status == "succeeded", job.error_message
    timings = job.result["timings"]
    assert set(timings) == {"read_s", "metrics_s", "total_s", "cpu"}  # no model, no predict
    wall = {key: value for key, value in timings.items() if key != "cpu"}
    for split in (wall, timings["cpu"]):  # wall seconds, and CPU seconds of the worker
        assert set(split) == {"read_s", "metrics_s", "total_s"}
        assert min(split.values()) >= 0
        assert abs(split["read_s"] + split["metrics_s"] - split["total_s"]) <= 0.001

"""Fairness numbers equal fairlearn's MetricFrame to 1e-9, with predictions from a model and with
predictions already recorded in the data; the job's result splits its time (read, predict,
metrics)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
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
from explainability.runners import fairness
from tests.integration import jobdata

RATES = {
    "selection_rate": selection_rate,
    "true_positive_rate": true_positive_rate,
    "false_positive_rate": false_positive_rate,
    "false_negative_rate": false_negative_rate,
    "accuracy": accuracy_score,
    "precision": lambda t, p: precision_score(t, p, zero_division=np.nan),
}


def _assert_equals_fairlearn(result, y_true, y_pred, frame, attributes):
    scopes = [(a, [a], result["attributes"][a]) for a in attributes]
    scopes.append((" & ".join(attributes), attributes,
                   result["intersections"][" & ".join(attributes)]))
    for _, columns, entry in scopes:
        sf = frame[columns[0]] if len(columns) == 1 else frame[columns]
        by_group = MetricFrame(metrics=RATES, y_true=y_true, y_pred=y_pred,
                               sensitive_features=sf).by_group
        for group in entry["groups"]:
            key = group["group"] if len(columns) == 1 else tuple(group["group"].split(" & "))
            for metric in RATES:
                theirs = by_group.loc[key, metric]
                if group[metric] is None:
                    assert np.isnan(theirs)
                else:
                    assert abs(group[metric] - theirs) <= 1e-9, (key, metric)
        summary = entry["metrics"]
        for name, function in (("demographic_parity_difference", demographic_parity_difference),
                               ("demographic_parity_ratio", demographic_parity_ratio),
                               ("equalized_odds_difference", equalized_odds_difference)):
            assert abs(summary[name]["value"] - function(y_true, y_pred, sensitive_features=sf)) \
                <= 1e-9, name


@pytest.fixture(scope="module")
def people():
    rng = np.random.default_rng(11)
    n = 20_000
    frame = pd.DataFrame({
        "sex": rng.choice(["F", "M"], n, p=[0.4, 0.6]),
        "region": rng.choice(["north", "south", "east", "west", "islands"], n,
                             p=[0.3, 0.3, 0.2, 0.19, 0.01]),
        "score": rng.random(n),
    })
    frame["outcome"] = (rng.random(n) < 0.3 + 0.4 * frame["score"]).astype(int)
    frame["decision"] = (frame["score"] >= 0.55).astype(int)
    return frame


def test_recorded_decisions_equal_fairlearn_to_1e9(people):
    result = fairness.fairness_from_decisions(
        people, prediction_column="decision", outcome_column="outcome",
        sensitive_columns=["sex", "region"],
    )
    _assert_equals_fairlearn(result, people["outcome"], people["decision"], people,
                             ["sex", "region"])


def test_scores_thresholded_equal_fairlearn_and_auc_equals_scikit_learn(people):
    result = fairness.fairness_from_decisions(
        people, prediction_column="score", outcome_column="outcome",
        sensitive_columns=["sex", "region"], threshold=0.55,
    )
    y_pred = (people["score"] >= 0.55).astype(int)
    _assert_equals_fairlearn(result, people["outcome"], y_pred, people, ["sex", "region"])
    overall = result["outcomes"]["overall"]
    assert abs(overall["auc"] - roc_auc_score(people["outcome"], people["score"])) <= 1e-9
    for block in result["outcomes"]["groups"]["region"]:
        part = people[people["region"] == block["group"]]
        assert abs(block["auc"] - roc_auc_score(part["outcome"], part["score"])) <= 1e-9


def test_auc_with_tied_scores_equals_scikit_learn():
    rng = np.random.default_rng(3)
    deciles = rng.integers(1, 11, 5000)  # ten distinct values: ties everywhere
    outcome = (rng.random(5000) < deciles / 12).astype(int)
    analysis = fairness.outcome_analysis(outcome, deciles >= 6, deciles.astype(float))
    assert abs(analysis["overall"]["auc"] - roc_auc_score(outcome, deciles)) <= 1e-12


@pytest.fixture(autouse=False)
def _inline(settings, monkeypatch):
    settings.JOB_HEARTBEAT_SECONDS = 3600
    monkeypatch.setattr(services, "_enqueue", lambda job_id: None)


def test_model_fairness_job_equals_fairlearn_and_reports_its_time_split(personas, _inline):
    eng = personas["engineer"]
    df = jobdata.credit(n=3000)
    dv = jobdata.upload_dataset(eng, df)
    fitted = jobdata.fit("logreg", df)
    mv = jobdata.register(eng, fitted, training=dv)
    job = services.job_start(actor=eng, version=mv, kind="fairness", dataset=dv,
                             params={"label_column": "default", "threshold": 0.3})
    job = runtime.run_inline(job.pk)
    assert job.status == "succeeded", job.error_detail
    timings = job.result["timings"]
    assert set(timings) == {"read_s", "predict_s", "metrics_s", "total_s", "cpu"}
    for split in (timings, timings["cpu"]):  # wall seconds, and CPU seconds of the worker
        assert set(split) >= {"read_s", "predict_s", "metrics_s", "total_s"}
        assert all(split[key] >= 0 for key in ("read_s", "predict_s", "metrics_s", "total_s"))
        assert split["total_s"] >= split["read_s"] + split["predict_s"]
    y_pred = (fitted.predict_proba(jobdata.rows_as_array(df))[:, 1] >= 0.3).astype(int)
    _assert_equals_fairlearn(job.result, df["default"], y_pred, df, ["sex", "age_band"])


def test_outcome_analysis_per_group_equals_scikit_learn_with_ties_and_missing_scores():
    """Every group of every attribute at once (one pass each): AUC equal to roc_auc_score on the
    group's scored rows, calibration equal to a per-(group, decile) pandas computation."""
    rng = np.random.default_rng(8)
    n = 40_000
    frame = pd.DataFrame({
        "sex": rng.choice(["F", "M"], n),
        "band": rng.choice(["a", "b", "c", None], n, p=[0.5, 0.3, 0.15, 0.05]),
        "score": np.round(rng.random(n), 2),  # 101 distinct values: ties within every group
    })
    frame["outcome"] = (rng.random(n) < frame["score"]).astype(int)
    frame.loc[rng.random(n) < 0.02, "score"] = np.nan  # no score: in the rates, not in the AUC
    decided = (frame["score"].fillna(0) >= 0.5).to_numpy()
    analysis = fairness.outcome_analysis(frame["outcome"], decided, frame["score"],
                                         frame[["sex", "band"]])
    scored = frame[frame["score"].notna()]
    edges = np.unique(np.quantile(scored["score"], np.linspace(0, 1, 11)))
    assert abs(analysis["overall"]["auc"] - roc_auc_score(scored["outcome"], scored["score"])) \
        <= 1e-12
    for column in ("sex", "band"):
        for block in analysis["groups"][column]:
            label = block["group"]
            rows = frame[frame[column].isna()] if label == "(missing)" else frame[
                frame[column] == label]
            part = rows[rows["score"].notna()]
            assert block["count"] == len(rows)
            assert block["selection_rate"] == decided[rows.index].mean()
            assert abs(block["auc"] - roc_auc_score(part["outcome"], part["score"])) <= 1e-12
            assert abs(block["mean_score"] - part["score"].mean()) <= 1e-12
            which = np.clip(np.searchsorted(edges[1:-1], part["score"], side="right"), 0,
                            len(edges) - 2)
            expected = part.groupby(which).agg(count=("score", "size"),
                                               mean_score=("score", "mean"),
                                               observed_rate=("outcome", "mean"))
            assert [b["bin"] - 1 for b in block["calibration"]] == expected.index.tolist()
            for got, (_, want) in zip(block["calibration"], expected.iterrows(), strict=True):
                assert got["count"] == want["count"]
                assert abs(got["mean_score"] - want["mean_score"]) <= 1e-12
                assert abs(got["observed_rate"] - want["observed_rate"]) <= 1e-12

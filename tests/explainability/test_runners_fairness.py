"""Fairness runner: numbers equal fairlearn's, decision rules, filters, chunking, errors."""

import json

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
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
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from explainability.runners.data import sha256_file
from explainability.runners.errors import JobInputError
from explainability.runners.fairness import (
    decision_fairness_counts,
    fairness_from_counts,
    fairness_from_decisions,
    fairness_from_model,
    merge_fairness_counts,
    model_fairness_counts,
    outcome_analysis,
    run_fairness,
)
from explainability.runners.loading import load_model

THRESHOLDS = {
    "demographic_parity_difference": {"max": 0.10},
    "disparate_impact_ratio": {"min": 0.80},
    "equalized_odds_difference": {"max": 0.10},
}
FAIRLEARN_RATES = {
    "selection_rate": selection_rate,
    "true_positive_rate": true_positive_rate,
    "false_positive_rate": false_positive_rate,
    "false_negative_rate": false_negative_rate,
}


@pytest.fixture(scope="module")
def people():
    """A COMPAS-shaped synthetic table: scores, text categories, outcomes, filters' columns."""
    rng = np.random.default_rng(42)
    n = 3000
    race = rng.choice(
        ["African-American", "Caucasian", "Hispanic", "Other", "Asian"],
        size=n,
        p=[0.45, 0.35, 0.12, 0.075, 0.005],
    )
    sex = rng.choice(["Male", "Female"], size=n, p=[0.8, 0.2])
    priors = rng.poisson(2 + (race == "African-American"), size=n)
    age = rng.integers(18, 70, size=n)
    risk = 1 / (1 + np.exp(-(0.3 * priors - 0.03 * (age - 35) - 0.6)))
    outcome = (rng.random(n) < risk).astype(int)
    decile = np.clip(np.ceil(risk * 10 + rng.normal(0, 1.5, size=n)), 1, 10).astype(int)
    text = np.where(decile <= 4, "Low", np.where(decile <= 7, "Medium", "High"))
    return pd.DataFrame(
        {
            "priors_count": priors,
            "age": age,
            "race": race,
            "sex": sex,
            "decile_score": decile,
            "score_text": text,
            "two_year_recid": outcome,
            "days_b_screening_arrest": rng.integers(-60, 60, size=n),
            "is_recid": rng.choice([-1, 0, 1], size=n, p=[0.05, 0.5, 0.45]),
            "c_charge_degree": rng.choice(["F", "M", "O"], size=n, p=[0.6, 0.38, 0.02]),
        }
    )


@pytest.fixture(scope="module")
def model(people, tmp_path_factory):
    features = people[["priors_count", "age"]]
    estimator = LogisticRegression().fit(features, people["two_year_recid"])
    path = tmp_path_factory.mktemp("model") / "lr.skops"
    sio.dump(estimator, path)
    return load_model(path, artifact_format="skops", expected_sha256=sha256_file(path))


def _assert_matches_fairlearn(result, y_true, y_pred, sensitive: pd.DataFrame):
    """Every group rate and summary metric equals fairlearn's, per attribute and per pair."""
    sections = [(column, sensitive[column], result["attributes"][column]) for column in sensitive]
    if sensitive.shape[1] == 2:
        first, second = sensitive.columns
        sections.append((None, sensitive, result["intersections"][f"{first} & {second}"]))
    for _, features, entry in sections:
        frame = MetricFrame(
            metrics=FAIRLEARN_RATES, y_true=y_true, y_pred=y_pred, sensitive_features=features
        )
        by_group = frame.by_group
        groups = {row["group"]: row for row in entry["groups"]}
        assert len(groups) == len(by_group)
        for key, expected in by_group.iterrows():
            label = " & ".join(key) if isinstance(key, tuple) else str(key)
            row = groups[label]
            assert row["selection_rate"] == pytest.approx(expected["selection_rate"], abs=1e-12)
            for rate, denominator in (
                ("true_positive_rate", "positives"),
                ("false_negative_rate", "positives"),
            ):
                if row[denominator]:
                    assert row[rate] == pytest.approx(expected[rate], abs=1e-12)
            if row["count"] - row["positives"]:
                assert row["false_positive_rate"] == pytest.approx(
                    expected["false_positive_rate"], abs=1e-12
                )
        metrics = entry["metrics"]
        kwargs = {"sensitive_features": features}
        assert metrics["demographic_parity_difference"]["value"] == pytest.approx(
            demographic_parity_difference(y_true, y_pred, **kwargs), abs=1e-12
        )
        assert metrics["demographic_parity_ratio"]["value"] == pytest.approx(
            demographic_parity_ratio(y_true, y_pred, **kwargs), abs=1e-12
        )
        assert (
            metrics["disparate_impact_ratio"]["value"]
            == metrics["demographic_parity_ratio"]["value"]
        )
        assert metrics["equalized_odds_difference"]["value"] == pytest.approx(
            equalized_odds_difference(y_true, y_pred, **kwargs), abs=1e-12
        )


def _without_outcomes(result):
    return {key: value for key, value in result.items() if key != "outcomes"}


def test_model_based_metrics_equal_fairlearn(people, model):
    result = fairness_from_model(
        model,
        people,
        features=["priors_count", "age"],
        label_column="two_year_recid",
        sensitive_columns=["race", "sex"],
        thresholds=THRESHOLDS,
    )
    score = model.predict_proba(people[["priors_count", "age"]])[:, 1]
    y_pred = (score >= 0.5).astype(int)
    y_true = people["two_year_recid"].to_numpy()
    _assert_matches_fairlearn(result, y_true, y_pred, people[["race", "sex"]])
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert result["decision_rule"]["class_index"] == 1
    assert result["population"] == {
        "rows_before": 3000,
        "filters": [],
        "rows_dropped_missing": 0,
        "rows_after": 3000,
        "rows": 3000,
    }
    assert result["outcomes"]["overall"]["auc"] == pytest.approx(roc_auc_score(y_true, score))


def test_thresholds_decide_pass_per_metric_and_overall(people, model):
    result = fairness_from_model(
        model,
        people,
        features=["priors_count", "age"],
        label_column="two_year_recid",
        sensitive_columns=["race"],
        thresholds=THRESHOLDS,
    )
    verdicts = []
    for entry in [*result["attributes"].values(), *result["intersections"].values()]:
        for name, metric in entry["metrics"].items():
            if name in THRESHOLDS:
                bounds = THRESHOLDS[name]
                expected = bounds.get("min", -1) <= metric["value"] <= bounds.get("max", 2)
                assert metric["passed"] is expected and metric["threshold"] == bounds
                verdicts.append(expected)
            else:
                assert metric["passed"] is None and metric["threshold"] is None
    assert result["passed"] is all(verdicts)
    # the loose thresholds pass, a strict one fails
    loose = run_fairness(
        [0, 1, 0, 1],
        [0, 1, 1, 1],
        pd.Series(["a", "a", "b", "b"], name="g"),
        thresholds={"demographic_parity_difference": {"max": 0.5}},
        min_group_size=1,
    )
    assert loose["passed"] is True
    strict = run_fairness(
        [0, 1, 0, 1],
        [0, 1, 1, 1],
        pd.Series(["a", "a", "b", "b"], name="g"),
        thresholds={"demographic_parity_difference": {"max": 0.4}},
        min_group_size=1,
    )
    assert strict["passed"] is False
    assert strict["attributes"]["g"]["metrics"]["demographic_parity_difference"]["value"] == 0.5


def test_small_groups_are_flagged_and_warned_not_dropped(people, model):
    result = fairness_from_model(
        model,
        people,
        features=["priors_count", "age"],
        label_column="two_year_recid",
        sensitive_columns=["race", "sex"],
        thresholds=THRESHOLDS,
        min_group_size=30,
    )
    asian = next(g for g in result["attributes"]["race"]["groups"] if g["group"] == "Asian")
    assert asian["count"] < 30 and asian["small_group"] is True
    assert any(w.startswith(f"race=Asian has {asian['count']} rows") for w in result["warnings"])
    cells = result["intersections"]["race & sex"]["groups"]
    small_cells = [cell for cell in cells if cell["small_group"]]
    assert small_cells and all(cell["count"] < 30 for cell in small_cells)
    assert cells[0]["members"].keys() == {"race", "sex"}
    assert sum(cell["count"] for cell in cells) == 3000


def test_recorded_decisions_with_filters_and_positive_values_equal_fairlearn(people):
    filters = [
        "days_b_screening_arrest <= 30",
        "days_b_screening_arrest >= -30",
        "is_recid != -1",
        "c_charge_degree != 'O'",
    ]
    result = fairness_from_decisions(
        people,
        prediction_column="score_text",
        outcome_column="two_year_recid",
        sensitive_columns=["race", "sex"],
        positive_values=["Medium", "High"],
        negative_values=["Low"],
        filters=filters,
        thresholds=THRESHOLDS,
    )
    kept = people[
        people.days_b_screening_arrest.between(-30, 30)
        & (people.is_recid != -1)
        & (people.c_charge_degree != "O")
    ]
    y_pred = kept.score_text.isin(["Medium", "High"]).astype(int).to_numpy()
    _assert_matches_fairlearn(result, kept.two_year_recid.to_numpy(), y_pred, kept[["race", "sex"]])
    population = result["population"]
    assert (population["rows_before"], population["rows_after"]) == (3000, len(kept))
    assert [f["filter"] for f in population["filters"]] == filters
    assert population["filters"][0]["rows_before"] == 3000
    assert population["filters"][-1]["rows_after"] == len(kept)
    assert result["decision_rule"]["mode"] == "mapping"


def test_score_threshold_decisions_and_outcome_analysis(people):
    result = fairness_from_decisions(
        people,
        prediction_column="decile_score",
        outcome_column="two_year_recid",
        sensitive_columns=["race"],
        threshold=5,
        thresholds=THRESHOLDS,
    )
    y_pred = (people.decile_score >= 5).astype(int).to_numpy()
    y_true = people.two_year_recid.to_numpy()
    _assert_matches_fairlearn(result, y_true, y_pred, people[["race"]])
    overall = result["outcomes"]["overall"]
    assert overall["auc"] == pytest.approx(roc_auc_score(y_true, people.decile_score))
    assert overall["accuracy"] == pytest.approx(np.mean(y_true == y_pred))
    assert sum(b["count"] for b in overall["calibration"]) == 3000
    white = next(g for g in result["outcomes"]["groups"]["race"] if g["group"] == "Caucasian")
    mask = people.race == "Caucasian"
    assert white["auc"] == pytest.approx(roc_auc_score(y_true[mask], people.decile_score[mask]))


def test_label_decisions_match_text_labels(people):
    decided = people.assign(
        decision=np.where(people.decile_score >= 5, "yes", "no"),
        outcome=np.where(people.two_year_recid == 1, "yes", "no"),
    )
    result = fairness_from_decisions(
        decided,
        prediction_column="decision",
        outcome_column="outcome",
        sensitive_columns=["sex"],
        positive_label="yes",
        thresholds=THRESHOLDS,
    )
    y_pred = (people.decile_score >= 5).astype(int)
    _assert_matches_fairlearn(result, people.two_year_recid, y_pred, people[["sex"]])


def test_chunked_counts_merge_to_the_unchunked_result(people):
    options = {
        "prediction_column": "score_text",
        "outcome_column": "two_year_recid",
        "sensitive_columns": ["race", "sex"],
        "positive_values": ["Medium", "High"],
        "filters": ["days_b_screening_arrest >= -30", "c_charge_degree != 'O'"],
    }
    # a chunk every row of which is filtered out is fine: only the merged total must have rows
    chunks = [
        people.iloc[:50].assign(c_charge_degree="O"),
        people.iloc[50:1000],
        people.iloc[1000:1001],
        people.iloc[1001:],
    ]
    whole = fairness_from_decisions(pd.concat(chunks), thresholds=THRESHOLDS, **options)
    parts = [json.loads(json.dumps(decision_fairness_counts(c, **options))) for c in chunks]
    merged = fairness_from_counts(merge_fairness_counts(parts), thresholds=THRESHOLDS)
    expected = _without_outcomes(whole)
    expected.pop("decision_rule")
    merged.pop("decision_rule", None)
    assert merged["population"]["rows_before"] == 3000
    assert merged == expected


def test_model_chunked_counts_merge_to_the_unchunked_result(people, model):
    options = {
        "features": ["priors_count", "age"],
        "label_column": "two_year_recid",
        "sensitive_columns": ["race", "sex"],
        "threshold": 0.4,
    }
    whole = fairness_from_model(model, people, thresholds=THRESHOLDS, **options)
    parts = [
        model_fairness_counts(model, people.iloc[i : i + 700], **options)
        for i in range(0, 3000, 700)
    ]
    merged = fairness_from_counts(merge_fairness_counts(parts), thresholds=THRESHOLDS)
    assert merged == _without_outcomes(whole)


def test_values_outside_the_declared_mapping_are_refused_by_name(people):
    odd = people.assign(score_text=people.score_text.where(people.index % 100 != 0, "N/A"))
    with pytest.raises(
        JobInputError, match=r"outside positive_values and negative_values: 'N/A' \(30 rows\)"
    ):
        fairness_from_decisions(
            odd,
            prediction_column="score_text",
            outcome_column="two_year_recid",
            sensitive_columns=["race"],
            positive_values=["Medium", "High"],
            negative_values=["Low"],
        )


def test_filters_that_remove_every_row_fail(people):
    with pytest.raises(JobInputError, match="The filters .*removed every row of the 3000"):
        fairness_from_decisions(
            people,
            prediction_column="decile_score",
            outcome_column="two_year_recid",
            sensitive_columns=["race"],
            threshold=5,
            filters=["age >= 18", "age > 200"],
        )
    options = {
        "prediction_column": "decile_score",
        "outcome_column": "two_year_recid",
        "sensitive_columns": ["race"],
        "threshold": 5,
        "filters": ["age > 200"],
    }
    parts = [decision_fairness_counts(people.iloc[i : i + 1000], **options) for i in (0, 1000)]
    with pytest.raises(JobInputError, match="removed every row of the 2000"):
        fairness_from_counts(merge_fairness_counts(parts))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"filters": ["ethnicity == 'x'"]}, "names column 'ethnicity', which is not in"),
        ({"filters": ["age >> 3"]}, "the value > 3 must be a number"),
        ({"filters": ["age 3"]}, "is not understood"),
        ({"filters": ["race == 3"]}, "compares text column 'race' with a number"),
        ({"filters": ["age == 'old'"]}, "compares numeric column 'age' with the text"),
        ({"sensitive_columns": ["religion"]}, "Column 'religion' is missing"),
        ({"outcome_column": "score_text"}, "'score_text' has 3 distinct values"),
        ({"positive_label": 2}, "positive_label 2 does not occur in column 'two_year_recid'"),
        ({"thresholds": {"accuracy_gap": {"max": 1}}}, "Unknown fairness metric 'accuracy_gap'"),
        ({"threshold": None}, "'decile_score' has 10 distinct values.*give a score threshold"),
        ({"threshold": 5, "positive_values": [5]}, "either a score threshold or positive_values"),
    ],
)
def test_bad_decision_parameters_are_explained(people, options, message):
    arguments = {
        "prediction_column": "decile_score",
        "outcome_column": "two_year_recid",
        "sensitive_columns": ["race"],
        "threshold": 5,
        **options,
    }
    with pytest.raises(JobInputError, match=message):
        fairness_from_decisions(people, **arguments)


def test_model_features_are_checked(people, model):
    with pytest.raises(
        JobInputError, match="Column 'age' is missing .* expects: priors_count, age"
    ):
        fairness_from_model(
            model,
            people.drop(columns="age"),
            features=["priors_count", "age"],
            label_column="two_year_recid",
            sensitive_columns=["race"],
        )
    with pytest.raises(JobInputError, match="The dataset has no rows"):
        fairness_from_model(
            model,
            people.iloc[:0],
            features=["priors_count", "age"],
            label_column="two_year_recid",
            sensitive_columns=["race"],
        )


def test_missing_sensitive_values_form_their_own_group_and_missing_outcomes_are_left_out():
    frame = pd.DataFrame(
        {
            "pred": [1, 0, 1, 0, 1, 0],
            "outcome": [1, 0, np.nan, 0, 1, 1],
            "group": ["a", "a", "b", None, "b", None],
        }
    )
    result = fairness_from_decisions(
        frame,
        prediction_column="pred",
        outcome_column="outcome",
        sensitive_columns=["group"],
        min_group_size=1,
    )
    groups = {g["group"]: g["count"] for g in result["attributes"]["group"]["groups"]}
    assert groups == {"a": 2, "b": 1, "(missing)": 2}
    assert result["population"]["rows_dropped_missing"] == 1
    assert any("left out" in warning for warning in result["warnings"])


def test_undefined_rates_are_null_for_the_group_and_zero_in_the_summary_like_fairlearn():
    y_true = np.array([1, 0, 1, 0, 0, 0])
    y_pred = np.array([1, 0, 0, 0, 1, 0])
    groups = pd.Series(["a", "a", "a", "a", "b", "b"], name="g")
    result = run_fairness(y_true, y_pred, groups, min_group_size=1)
    b = next(g for g in result["attributes"]["g"]["groups"] if g["group"] == "b")
    assert b["true_positive_rate"] is None and b["precision"] == 0.0
    assert result["attributes"]["g"]["metrics"]["equalized_odds_difference"]["value"] == (
        pytest.approx(equalized_odds_difference(y_true, y_pred, sensitive_features=groups))
    )
    assert any("no actual positives" in warning for warning in result["warnings"])
    with pytest.raises(JobInputError, match="must be 0 or 1; found: 0, 2"):
        run_fairness([0, 2], [0, 1], groups.iloc[:2])


def test_outcome_analysis_calibrates_by_decile():
    rng = np.random.default_rng(0)
    score = rng.random(1000)
    y_true = (rng.random(1000) < score).astype(int)
    y_pred = (score >= 0.5).astype(int)
    result = outcome_analysis(
        y_true, y_pred, score, pd.Series(rng.choice(["x", "y"], 1000), name="g")
    )
    bins = result["overall"]["calibration"]
    assert len(bins) == 10 and all(b["count"] == 100 for b in bins)
    for item in bins:
        assert item["lower"] <= item["mean_score"] <= item["upper"]
    assert result["overall"]["expected_calibration_error"] < 0.1
    assert result["overall"]["auc"] == pytest.approx(roc_auc_score(y_true, score))
    assert {g["group"] for g in result["groups"]["g"]} == {"x", "y"}
    assert outcome_analysis(y_true, y_pred)["overall"]["auc"] is None


def test_chunks_whose_rows_all_lack_outcomes_fail_clearly():
    frame = pd.DataFrame({"pred": [1, 0], "outcome": [np.nan, np.nan], "group": ["a", "b"]})
    options = {
        "prediction_column": "pred",
        "outcome_column": "outcome",
        "sensitive_columns": ["group"],
    }
    counts = decision_fairness_counts(frame, **options)
    with pytest.raises(JobInputError, match="All 2 rows left after filtering lack"):
        fairness_from_counts(counts)
    with pytest.raises(JobInputError, match="No row has a value in every one of: pred, outcome"):
        fairness_from_decisions(frame, **options)

"""SHAP runner: explainer choice, equality with shap itself, chunking, files and input errors."""

import json

import numpy as np
import pandas as pd
import pytest
import shap
import skops.io as sio
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from explainability.runners import shap_runner
from explainability.runners.data import sha256_file
from explainability.runners.errors import JobInputError
from explainability.runners.loading import load_model
from explainability.runners.shap_runner import (
    ShapChunk,
    ShapPlan,
    chunk_bounds,
    compute_shap_chunk,
    finalize_shap,
    prepare_shap,
    row_seed,
    run_shap,
)

FEATURES = [f"x{i}" for i in range(6)]


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, random_state=0, shuffle=False
    )
    return pd.DataFrame(X, columns=FEATURES), y


@pytest.fixture(scope="module")
def multiclass():
    X, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=1
    )
    return pd.DataFrame(X, columns=FEATURES), y


def _saved(tmp_path, estimator, name="model.skops"):
    """Round-trip through skops and the safe loader, as a worker would."""
    path = tmp_path / name
    sio.dump(estimator, path)
    return load_model(path, artifact_format="skops", expected_sha256=sha256_file(path))


def _npz(out_dir):
    with np.load(out_dir / "shap_values.npz", allow_pickle=False) as stored:
        return {key: stored[key] for key in stored.files}


def _check_files(out_dir, result):
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    for name in result["files"].values():
        assert (out_dir / name).stat().st_size > 0
    assert (out_dir / "shap_bar.svg").read_text().lstrip().startswith("<?xml")
    assert (out_dir / "shap_beeswarm.svg").read_text().lstrip().startswith("<?xml")


def test_gradient_boosting_uses_tree_explainer_in_log_odds_and_matches_shap(tmp_path, binary):
    X, y = binary
    estimator = GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0).fit(X, y)
    model = _saved(tmp_path, estimator)
    result = run_shap(model, X, sample_size=40, background_size=50, out_dir=str(tmp_path))
    stored = _npz(tmp_path)
    assert result["explainer"] == "TreeExplainer"
    assert result["feature_perturbation"] == "interventional"
    assert result["output_space"] == "log_odds"
    assert result["rows_explained"] == 40 and result["rows_total"] == 300
    assert result["additivity_checked"] is True and result["additivity_max_gap"] < 1e-6
    rows = X.iloc[stored["row_indices"]]
    direct = shap.TreeExplainer(
        estimator, data=stored["background"], feature_perturbation="interventional"
    )(rows)
    assert np.allclose(stored["values"], direct.values)
    assert np.allclose(stored["base_values"], direct.base_values)
    assert np.allclose(
        stored["values"].sum(1) + stored["base_values"],
        estimator.decision_function(rows),
        atol=1e-6,
    )
    assert result["base_value"] == pytest.approx(float(np.mean(direct.base_values)))
    importance = [item["mean_abs_shap"] for item in result["feature_importance"]]
    assert importance == sorted(importance, reverse=True)
    assert result["feature_importance"][0]["mean_abs_shap"] == pytest.approx(
        np.abs(direct.values).mean(0).max()
    )
    _check_files(tmp_path, result)


def test_random_forest_explains_the_positive_class_probability(tmp_path):
    data = load_breast_cancer(as_frame=True)
    X, y = data.data.iloc[:, :8], data.target
    estimator = RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0).fit(X, y)
    model = _saved(tmp_path, estimator)
    result = run_shap(model, X, sample_size=30, background_size=40, out_dir=str(tmp_path))
    stored = _npz(tmp_path)
    assert (result["explainer"], result["output_space"]) == ("TreeExplainer", "probability")
    assert result["class_index"] == 1 and result["class_label"] == 1
    rows = X.iloc[stored["row_indices"]]
    direct = shap.TreeExplainer(estimator, data=stored["background"])(rows)
    assert np.allclose(stored["values"], direct.values[:, :, 1])
    assert np.allclose(
        stored["values"].sum(1) + stored["base_values"],
        estimator.predict_proba(rows)[:, 1],
        atol=1e-6,
    )


def test_lightgbm_interventional_uses_tree_explainer_and_matches_shap(tmp_path, binary):
    lightgbm = pytest.importorskip("lightgbm")
    X, y = binary
    estimator = lightgbm.LGBMClassifier(n_estimators=15, num_leaves=7, verbose=-1).fit(X, y)
    model = _saved(tmp_path, estimator)
    result = run_shap(
        model, X, sample_size=30, background_size=40, out_dir=str(tmp_path),
        feature_perturbation="interventional",
    )
    stored = _npz(tmp_path)
    assert (result["explainer"], result["output_space"]) == ("TreeExplainer", "log_odds")
    rows = X.iloc[stored["row_indices"]]
    direct = shap.TreeExplainer(estimator, data=stored["background"])(rows)
    assert np.allclose(stored["values"], direct.values)


def test_logistic_regression_uses_linear_explainer_and_matches_shap(tmp_path, binary):
    X, y = binary
    estimator = LogisticRegression(max_iter=500).fit(X, y)
    model = _saved(tmp_path, estimator)
    result = run_shap(model, X, background_size=60, out_dir=str(tmp_path))
    stored = _npz(tmp_path)
    assert (result["explainer"], result["output_space"]) == ("LinearExplainer", "log_odds")
    assert result["rows_explained"] == len(X)
    masker = shap.maskers.Independent(stored["background"], max_samples=60)
    direct = shap.LinearExplainer(estimator, masker)(X.to_numpy())
    assert np.allclose(stored["values"], direct.values)
    assert np.allclose(stored["base_values"], direct.base_values)


def test_class_zero_of_a_binary_margin_is_the_negated_class_one(tmp_path, binary):
    X, y = binary
    model = _saved(tmp_path, LogisticRegression(max_iter=500).fit(X, y))
    run_shap(model, X, sample_size=20, class_index=1, out_dir=str(tmp_path / "one"))
    result = run_shap(model, X, sample_size=20, class_index=0, out_dir=str(tmp_path / "zero"))
    assert result["class_index"] == 0
    assert np.allclose(_npz(tmp_path / "zero")["values"], -_npz(tmp_path / "one")["values"])


def test_pipeline_uses_permutation_on_raw_features_and_matches_shap(tmp_path, binary):
    X, y = binary
    estimator = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    model = _saved(tmp_path, estimator)
    assert model.kind == "pipeline"
    result = run_shap(
        model, X, sample_size=4, background_size=20, seed=7, max_evals=60, out_dir=str(tmp_path)
    )
    stored = _npz(tmp_path)
    assert result["explainer"] == "PermutationExplainer"
    assert result["output_space"] == "probability"
    assert "Pipeline" in result["explainer_reason"]
    masker = shap.maskers.Independent(stored["background"], max_samples=20)
    for position, row_index in enumerate(stored["row_indices"]):
        explainer = shap.PermutationExplainer(
            lambda a: estimator.predict_proba(pd.DataFrame(a, columns=FEATURES))[:, 1],
            masker,
            seed=row_seed(7, row_index),
        )
        direct = explainer(X.iloc[[row_index]].to_numpy(), max_evals=result["max_evals"])
        assert np.allclose(stored["values"][position], direct.values[0])
    # permutation SHAP is exactly efficient: base + sum = the model's probability
    rows = X.iloc[stored["row_indices"]]
    total = stored["values"].sum(1) + stored["base_values"]
    assert np.allclose(total, estimator.predict_proba(rows)[:, 1])


def test_onnx_model_is_explained_through_its_probabilities(tmp_path, binary):
    skl2onnx = pytest.importorskip("skl2onnx")
    X, y = binary
    estimator = make_pipeline(StandardScaler(), LogisticRegression()).fit(X.to_numpy(), y)
    onx = skl2onnx.to_onnx(estimator, X.to_numpy()[:1].astype(np.float32), target_opset=17)
    path = tmp_path / "model.onnx"
    path.write_bytes(onx.SerializeToString())
    model = load_model(path, artifact_format="onnx", expected_sha256=sha256_file(path))
    result = run_shap(
        model, X, sample_size=3, background_size=10, max_evals=60, out_dir=str(tmp_path)
    )
    stored = _npz(tmp_path)
    assert (result["explainer"], result["output_space"]) == ("PermutationExplainer", "probability")
    assert result["class_label"] == 1
    rows = X.iloc[stored["row_indices"]]
    total = stored["values"].sum(1) + stored["base_values"]
    assert np.allclose(total, model.predict_proba(rows)[:, 1], atol=1e-5)
    _check_files(tmp_path, result)


def test_hist_gradient_boosting_uses_path_dependent_trees_and_says_why(tmp_path, binary):
    X, y = binary
    estimator = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, y)
    model = _saved(tmp_path, estimator)
    result = run_shap(model, X, sample_size=40, background_size=30, out_dir=str(tmp_path))
    stored = _npz(tmp_path)
    assert result["explainer"] == "TreeExplainer"
    assert result["feature_perturbation"] == "tree_path_dependent"
    assert "does not reproduce HistGradientBoosting" in result["explainer_reason"]
    assert result["output_space"] == "log_odds"
    assert result["additivity_max_gap"] < 1e-6
    rows = X.iloc[stored["row_indices"]]
    direct = shap.TreeExplainer(estimator, feature_perturbation="tree_path_dependent")(rows)
    assert np.allclose(stored["values"], direct.values)
    total = stored["values"].sum(1) + stored["base_values"]
    assert np.allclose(total, estimator.decision_function(rows), atol=1e-6)


def test_regressor_explains_its_prediction_in_raw_units(tmp_path, binary):
    X, _ = binary
    target = 3 * X["x0"] - X["x1"] + 10
    estimator = GradientBoostingRegressor(n_estimators=10, max_depth=2, random_state=0)
    model = _saved(tmp_path, estimator.fit(X, target))
    result = run_shap(model, X, sample_size=20, background_size=20, out_dir=str(tmp_path))
    stored = _npz(tmp_path)
    assert (result["explainer"], result["output_space"]) == ("TreeExplainer", "raw")
    assert result["class_index"] is None and result["additivity_max_gap"] < 1e-6
    rows = X.iloc[stored["row_indices"]]
    total = stored["values"].sum(1) + stored["base_values"]
    assert np.allclose(total, estimator.predict(rows), atol=1e-6)
    with pytest.raises(JobInputError, match="class_index was given"):
        prepare_shap(model, X, class_index=1)


def test_onnx_regressor_is_not_mistaken_for_a_classifier(tmp_path, binary):
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.linear_model import LinearRegression

    X, _ = binary
    estimator = LinearRegression().fit(X.to_numpy(), X["x0"] * 2 + 1)
    onx = skl2onnx.to_onnx(estimator, X.to_numpy()[:1].astype(np.float32), target_opset=17)
    path = tmp_path / "reg.onnx"
    path.write_bytes(onx.SerializeToString())
    model = load_model(path, artifact_format="onnx", expected_sha256=sha256_file(path))
    assert model.is_classifier is False
    result = run_shap(
        model, X, sample_size=2, background_size=5, max_evals=60, out_dir=str(tmp_path)
    )
    assert (result["explainer"], result["output_space"]) == ("PermutationExplainer", "raw")
    assert result["additivity_max_gap"] < 1e-3


def test_unsupported_multiclass_boosting_falls_back_to_permutation(tmp_path, multiclass):
    X, y = multiclass
    estimator = GradientBoostingClassifier(n_estimators=5, max_depth=2, random_state=0).fit(X, y)
    model = _saved(tmp_path, estimator)
    with pytest.raises(JobInputError, match="3 classes; choose which one"):
        prepare_shap(model, X)
    result = run_shap(
        model,
        X,
        sample_size=3,
        background_size=10,
        class_index=2,
        max_evals=60,
        out_dir=str(tmp_path),
    )
    assert result["explainer"] == "PermutationExplainer"
    assert "only supported for binary" in result["explainer_reason"]
    assert "fell back" in result["explainer_reason"]
    assert result["class_index"] == 2 and result["output_space"] == "probability"
    stored = _npz(tmp_path)
    rows = X.iloc[stored["row_indices"]]
    total = stored["values"].sum(1) + stored["base_values"]
    assert np.allclose(total, estimator.predict_proba(rows)[:, 2])


def test_multiclass_forest_explains_the_chosen_class(tmp_path, multiclass):
    X, y = multiclass
    estimator = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    model = _saved(tmp_path, estimator)
    run_shap(model, X, sample_size=10, background_size=20, class_index=2, out_dir=str(tmp_path))
    stored = _npz(tmp_path)
    direct = shap.TreeExplainer(estimator, data=stored["background"])(X.iloc[stored["row_indices"]])
    assert np.allclose(stored["values"], direct.values[:, :, 2])
    with pytest.raises(JobInputError, match="class_index must be between 0 and 2"):
        prepare_shap(model, X, class_index=3)


@pytest.mark.parametrize("kind", ["tree", "permutation"])
def test_chunks_computed_separately_merge_to_the_unchunked_values(tmp_path, binary, kind):
    X, y = binary
    if kind == "tree":
        estimator = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0)
        sample = 25
    else:
        estimator = make_pipeline(StandardScaler(), LogisticRegression())
        sample = 5
    model = _saved(tmp_path, estimator.fit(X, y))
    options = {"sample_size": sample, "background_size": 15, "max_evals": 60}
    whole = run_shap(model, X, out_dir=str(tmp_path / "a"), **options)

    plan = prepare_shap(model, X, **options)
    plan_json = json.loads(json.dumps(plan.to_dict()))  # what a chord would ship to workers
    chunks = []
    for start, stop in reversed(chunk_bounds(plan_json, 2)):  # order must not matter
        chunk = compute_shap_chunk(model, X, ShapPlan.from_dict(plan_json), start, stop)
        chunks.append(json.loads(json.dumps(chunk.to_dict())))
    merged = finalize_shap(plan_json, chunks, X, str(tmp_path / "b"))

    # The additivity check predicts per chunk: a smaller batch may round its last bit otherwise
    # (BLAS blocks by batch size), so that one figure agrees to rounding, the rest exactly.
    gap_merged, gap_whole = merged.pop("additivity_max_gap"), whole.pop("additivity_max_gap")
    assert merged == whole
    assert abs(gap_merged - gap_whole) < 1e-12
    assert np.array_equal(_npz(tmp_path / "a")["values"], _npz(tmp_path / "b")["values"])


def test_chunks_that_leave_a_gap_are_refused(tmp_path, binary):
    X, y = binary
    model = _saved(tmp_path, LogisticRegression().fit(X, y))
    plan = prepare_shap(model, X, sample_size=10)
    first = compute_shap_chunk(model, X, plan, 0, 4)
    last = compute_shap_chunk(model, X, plan, 6, 10)
    with pytest.raises(ValueError, match="gap or overlap at row 4"):
        finalize_shap(plan, [first, last], X, str(tmp_path))
    assert ShapChunk.from_dict(first.to_dict()).values.tolist() == first.values.tolist()


def test_dataset_changed_between_plan_and_chunk_is_a_user_error(tmp_path, binary):
    X, y = binary
    model = _saved(tmp_path, LogisticRegression().fit(X, y))
    plan = prepare_shap(model, X, sample_size=10)
    with pytest.raises(JobInputError, match="changed between planning and computing"):
        compute_shap_chunk(model, X.iloc[:-1], plan, 0, 10)


def test_kmeans_background_is_in_the_plan_and_used_as_is(tmp_path, binary):
    X, y = binary
    estimator = GradientBoostingClassifier(n_estimators=5, max_depth=2, random_state=0).fit(X, y)
    model = _saved(tmp_path, estimator)
    plan = prepare_shap(model, X, sample_size=10, background_size=8, background_method="kmeans")
    assert plan.background_indices is None and len(plan.background_data) == 8
    result = finalize_shap(plan, [compute_shap_chunk(model, X, plan, 0, 10)], X, str(tmp_path))
    assert result["background"] == {"method": "kmeans", "size": 8}
    direct = shap.TreeExplainer(estimator, data=np.asarray(plan.background_data))(
        X.iloc[plan.row_indices]
    )
    assert np.allclose(_npz(tmp_path)["values"], direct.values)


def test_same_seed_same_sample_and_different_seed_different_sample(binary):
    X, y = binary
    model = load_model_free(LogisticRegression().fit(X, y))
    first = prepare_shap(model, X, sample_size=10, seed=3)
    assert prepare_shap(model, X, sample_size=10, seed=3).to_dict() == first.to_dict()
    assert prepare_shap(model, X, sample_size=10, seed=4).row_indices != first.row_indices


def load_model_free(estimator):
    """A LoadedModel without the file round trip, for plan-only tests."""
    from explainability.runners.loading import LoadedModel, model_kind

    names = list(getattr(estimator, "feature_names_in_", [])) or None
    return LoadedModel(model=estimator, kind=model_kind(estimator), feature_names=names)


def test_missing_non_numeric_and_empty_inputs_are_explained(binary):
    X, y = binary
    model = load_model_free(LogisticRegression().fit(X, y))
    with pytest.raises(JobInputError, match="Column 'x3' is missing .* expects: x0, x1"):
        prepare_shap(model, X.drop(columns="x3"))
    with pytest.raises(JobInputError, match="Column 'x1' \\((object|str)\\) is not numeric"):
        prepare_shap(model, X.assign(x1="a"))
    with pytest.raises(JobInputError, match="The dataset has no rows"):
        prepare_shap(model, X.iloc[:0])


def test_plot_failure_falls_back_to_a_plain_plot(tmp_path, binary, monkeypatch):
    X, y = binary
    model = load_model_free(LogisticRegression().fit(X, y))

    def broken(*args, **kwargs):
        raise RuntimeError("no")

    monkeypatch.setattr(shap.plots, "beeswarm", broken)
    result = run_shap(model, X, sample_size=10, out_dir=str(tmp_path))
    assert any("shap_beeswarm.svg: shap plot failed" in note for note in result["notes"])
    _check_files(tmp_path, result)


def test_plots_are_reproducible_byte_for_byte(tmp_path, binary):
    X, y = binary
    model = load_model_free(LogisticRegression().fit(X, y))
    run_shap(model, X, sample_size=20, out_dir=str(tmp_path / "a"))
    run_shap(model, X, sample_size=20, out_dir=str(tmp_path / "b"))
    for name in shap_runner.FILES.values():
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()

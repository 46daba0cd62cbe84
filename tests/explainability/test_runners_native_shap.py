"""Exact path-dependent SHAP for XGBoost and LightGBM from the frameworks' own TreeSHAP.

The values must equal shap.TreeExplainer's tree_path_dependent values on the same rows (to 1e-6;
XGBoost itself computes in float32, so that is the precision of the reference), and the fast
XGBoost algorithm must equal an exhaustive Shapley computation in float64 (to 1e-9).
"""

import itertools
import json
import math

import lightgbm
import numpy as np
import pandas as pd
import shap
import xgboost
from sklearn.datasets import make_classification, make_regression

from explainability.runners import fast_tree_shap, native_tree_shap, shap_runner
from explainability.runners.loading import LoadedModel, model_kind


def _frame(n=1500, features=6, classes=2, seed=0):
    X, y = make_classification(
        n_samples=n, n_features=features, n_informative=4, n_redundant=0, n_classes=classes,
        random_state=seed,
    )
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(features)])
    frame.iloc[::11, 2] = np.nan  # missing values take each split's default direction
    return frame, y


def _loaded(estimator, frame):
    return LoadedModel(model=estimator, kind=model_kind(estimator), feature_names=list(frame))


def _run(estimator, frame, tmp_path, **options):
    result = shap_runner.run_shap(
        _loaded(estimator, frame), frame, out_dir=str(tmp_path), **options
    )
    stored = np.load(tmp_path / "shap_values.npz", allow_pickle=False)
    return result, stored


def _shap_reference(estimator, rows, class_index=None):
    explainer = shap.TreeExplainer(estimator, feature_perturbation="tree_path_dependent")
    explanation = explainer(rows)
    values, base = np.asarray(explanation.values), np.asarray(explanation.base_values)
    if values.ndim == 3:
        values, base = values[:, :, class_index], base.reshape(len(rows), -1)[:, class_index]
    return values, np.broadcast_to(base.reshape(-1), (len(rows),))


def test_xgboost_values_equal_shap_tree_explainer_and_name_the_algorithm(tmp_path):
    frame, y = _frame()
    model = xgboost.XGBClassifier(n_estimators=25, max_depth=4, random_state=0).fit(frame, y)
    result, stored = _run(model, frame, tmp_path, sample_size=400)
    assert result["explainer"] == shap_runner.NATIVE_TREE_SHAP
    assert result["algorithm"] == native_tree_shap.XGBOOST_FAST
    assert result["feature_perturbation"] == "tree_path_dependent"
    assert result["output_space"] == "log_odds"
    values, base = _shap_reference(model, frame.iloc[stored["row_indices"]])
    assert np.abs(stored["values"] - values).max() <= 1e-6
    assert np.abs(stored["base_values"] - base).max() <= 1e-6


def test_xgboost_multiclass_and_regression_values_equal_shap(tmp_path):
    frame, y = _frame(classes=3, seed=1)
    model = xgboost.XGBClassifier(n_estimators=10, max_depth=3, random_state=0).fit(frame, y)
    result, stored = _run(model, frame, tmp_path / "multi", sample_size=300, class_index=2)
    values, base = _shap_reference(model, frame.iloc[stored["row_indices"]], class_index=2)
    assert result["algorithm"] == native_tree_shap.XGBOOST_FAST and result["class_index"] == 2
    assert np.abs(stored["values"] - values).max() <= 1e-6
    assert np.abs(stored["base_values"] - base).max() <= 1e-6

    X, target = make_regression(n_samples=800, n_features=5, noise=5.0, random_state=0)
    reg_frame = pd.DataFrame(X / 10, columns=[f"r{i}" for i in range(5)])
    regressor = xgboost.XGBRegressor(n_estimators=15, max_depth=3).fit(reg_frame, target / 100)
    result, stored = _run(regressor, reg_frame, tmp_path / "reg", sample_size=300)
    values, _ = _shap_reference(regressor, reg_frame.iloc[stored["row_indices"]])
    assert result["output_space"] == "raw"
    assert np.abs(stored["values"] - values).max() <= 1e-6


def test_explaining_class_zero_of_a_binary_model_negates_the_margin(tmp_path):
    frame, y = _frame(seed=2)
    model = xgboost.XGBClassifier(n_estimators=10, max_depth=3).fit(frame, y)
    one, stored_one = _run(model, frame, tmp_path / "one", sample_size=100)
    zero, stored_zero = _run(model, frame, tmp_path / "zero", sample_size=100, class_index=0)
    assert np.array_equal(stored_zero["values"], -stored_one["values"])
    assert zero["base_value"] == -one["base_value"]


def test_lightgbm_values_come_from_pred_contrib_and_equal_shap(tmp_path):
    frame, y = _frame(seed=3)
    model = lightgbm.LGBMClassifier(n_estimators=30, num_leaves=15, verbose=-1).fit(frame, y)
    result, stored = _run(model, frame, tmp_path, sample_size=400)
    assert result["algorithm"] == native_tree_shap.LIGHTGBM_NATIVE
    values, base = _shap_reference(model, frame.iloc[stored["row_indices"]])
    assert np.abs(stored["values"] - values).max() <= 1e-6
    assert np.abs(stored["base_values"] - base).max() <= 1e-6


def test_dart_and_oversized_models_use_xgboost_pred_contribs(tmp_path, monkeypatch):
    frame, y = _frame(seed=4)
    dart = xgboost.XGBClassifier(
        booster="dart", n_estimators=8, max_depth=3, rate_drop=0.2, random_state=0
    ).fit(frame, y)
    result, stored = _run(dart, frame, tmp_path / "dart", sample_size=200)
    assert result["algorithm"] == native_tree_shap.XGBOOST_NATIVE
    values, _ = _shap_reference(dart, frame.iloc[stored["row_indices"]])
    assert np.abs(stored["values"] - values).max() <= 1e-6

    monkeypatch.setattr(fast_tree_shap, "MAX_TABLE_ENTRIES", 10)
    plain = xgboost.XGBClassifier(n_estimators=8, max_depth=3).fit(frame, y)
    result, _ = _run(plain, frame, tmp_path / "big", sample_size=50)
    assert result["algorithm"] == native_tree_shap.XGBOOST_NATIVE


def test_interventional_on_request_still_uses_shap_with_the_background(tmp_path):
    frame, y = _frame(seed=5)
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=3).fit(frame, y)
    result, _ = _run(
        model, frame, tmp_path, sample_size=50, feature_perturbation="interventional"
    )
    assert result["explainer"] == shap_runner.TREE_EXPLAINER
    assert result["algorithm"] == "shap.TreeExplainer (interventional)"


# --- an independent float64 reference: Shapley values by enumerating every coalition ---------


def _trees(booster):
    model = json.loads(bytes(booster.save_raw("json")))["learner"]["gradient_booster"]["model"]
    return model["trees"]


def _expected(tree, x, coalition, node=0):
    """E[tree | x_S] as TreeSHAP's path-dependent value function defines it (paper, Alg. 1)."""
    left, right = tree["left_children"][node], tree["right_children"][node]
    if left < 0:
        return tree["split_conditions"][node]
    feature = tree["split_indices"][node]
    if feature in coalition:
        value = np.float32(x[feature])
        if np.isnan(value):
            go_left = bool(tree["default_left"][node])
        else:
            go_left = value < np.float32(tree["split_conditions"][node])
        return _expected(tree, x, coalition, left if go_left else right)
    cover = tree["sum_hessian"]
    return (cover[left] * _expected(tree, x, coalition, left)
            + cover[right] * _expected(tree, x, coalition, right)) / cover[node]


def _exhaustive_shapley(trees, x, n_features):
    players = range(n_features)
    value = {
        subset: sum(_expected(tree, x, set(subset)) for tree in trees)
        for size in range(n_features + 1) for subset in itertools.combinations(players, size)
    }
    phi = np.zeros(n_features)
    for i in players:
        others = [j for j in players if j != i]
        for size in range(n_features):
            weight = math.factorial(size) * math.factorial(n_features - size - 1)
            weight /= math.factorial(n_features)
            for subset in itertools.combinations(others, size):
                with_i = tuple(sorted((*subset, i)))
                phi[i] += weight * (value[with_i] - value[subset])
    return phi


def test_fast_tree_shap_equals_exhaustive_shapley_in_float64():
    frame, y = _frame(n=600, features=5, seed=6)
    model = xgboost.XGBClassifier(n_estimators=6, max_depth=4, random_state=0).fit(frame, y)
    booster = model.get_booster()
    rows = frame.to_numpy()[:8]
    ensemble = fast_tree_shap.build(booster, 0, 5)
    fast = fast_tree_shap.explain(ensemble, rows)
    trees = _trees(booster)
    for row, values in zip(rows, fast, strict=True):
        assert np.abs(values - _exhaustive_shapley(trees, row, 5)).max() <= 1e-9


def test_chunks_reuse_the_explainer_and_tables_built_once_per_loaded_model(monkeypatch):
    """A worker keeps the loaded model (by artifact sha256); the chunks it computes reuse what
    was derived from it: the XGBoost leaf tables, and shap's explainer with its background."""
    frame, y = _frame(seed=7)
    builds = []
    real_build = fast_tree_shap.build
    monkeypatch.setattr(fast_tree_shap, "build", lambda *a: builds.append(1) or real_build(*a))
    model = _loaded(xgboost.XGBClassifier(n_estimators=5, max_depth=3).fit(frame, y), frame)
    plan = shap_runner.prepare_shap(model, frame, sample_size=300)
    chunks = [shap_runner.compute_shap_chunk(model, frame, plan, a, b)
              for a, b in shap_runner.chunk_bounds(plan, 100)]
    assert len(chunks) == 3 and len(builds) == 1

    explainers = []
    real_explainer = shap.TreeExplainer
    monkeypatch.setattr(shap, "TreeExplainer",
                        lambda *a, **k: explainers.append(1) or real_explainer(*a, **k))
    plan = shap_runner.prepare_shap(model, frame, sample_size=300,
                                    feature_perturbation="interventional")
    whole = shap_runner.compute_shap_chunk(model, frame, plan, 0, 300)
    parts = [shap_runner.compute_shap_chunk(model, frame, plan, a, b)
             for a, b in shap_runner.chunk_bounds(plan, 100)]
    assert len(explainers) == 1
    merged = shap_runner.merge_shap_chunks(plan, parts)
    assert np.array_equal(merged.values, whole.values)

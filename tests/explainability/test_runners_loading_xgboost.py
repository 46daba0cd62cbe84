"""XGBoost artifacts: its own JSON/UBJSON model files and skops archives load and score like the
original; a pickle under an XGBoost name is refused without being unpickled."""

import pathlib
import pickle

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import xgboost
from sklearn.datasets import make_classification, make_regression

from explainability.runners.data import sha256_file
from explainability.runners.errors import JobInputError, UnsafeArtifactError
from explainability.runners.loading import load_model


class Tripwire:
    """Unpickling this touches a file, so a test can prove nothing was unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.path),))


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]), y


@pytest.fixture(scope="module")
def classifier(data):
    X, y = data
    return xgboost.XGBClassifier(n_estimators=8, max_depth=3, random_state=0).fit(X, y)


def _load(path, fmt):
    return load_model(path, artifact_format=fmt, expected_sha256=sha256_file(path))


@pytest.mark.parametrize("suffix", [".json", ".ubj"])
def test_xgboost_model_file_loads_and_scores_like_the_original(tmp_path, data, classifier, suffix):
    X, _ = data
    path = tmp_path / f"model{suffix}"
    classifier.save_model(path)
    loaded = _load(path, "xgboost")
    assert (loaded.kind, loaded.artifact_format) == ("xgboost", "xgboost")
    assert loaded.feature_names == list(X.columns)
    assert loaded.classes == [0, 1] and loaded.is_classifier
    assert np.array_equal(loaded.predict_proba(X), classifier.predict_proba(X))
    assert np.array_equal(loaded.predict(X), classifier.predict(X))


def test_booster_trained_without_the_sklearn_api_becomes_a_classifier_or_regressor(tmp_path):
    X, y = make_classification(n_samples=200, n_features=4, n_classes=3, n_informative=3, n_redundant=0,
                               random_state=1)
    booster = xgboost.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2},
                            xgboost.DMatrix(X, y), num_boost_round=4)
    booster.save_model(tmp_path / "multi.ubj")
    multi = _load(tmp_path / "multi.ubj", "xgboost")
    assert multi.is_classifier and multi.predict_proba(X).shape == (200, 3)
    assert np.allclose(multi.predict_proba(X), booster.predict(xgboost.DMatrix(X)))

    Xr, yr = make_regression(n_samples=200, n_features=4, random_state=1)
    reg = xgboost.train({"objective": "reg:squarederror"}, xgboost.DMatrix(Xr, yr), 4)
    reg.save_model(tmp_path / "reg.json")
    loaded = _load(tmp_path / "reg.json", "xgboost")
    assert not loaded.is_classifier
    assert np.allclose(loaded.predict(Xr), reg.predict(xgboost.DMatrix(Xr)))


def test_xgboost_in_a_skops_archive_loads_with_its_trusted_types(tmp_path, data, classifier):
    X, _ = data
    path = tmp_path / "model.skops"
    sio.dump(classifier, path)
    assert set(sio.get_untrusted_types(file=path)) == {
        "xgboost.core.Booster", "xgboost.sklearn.XGBClassifier"
    }
    loaded = _load(path, "skops")
    assert loaded.kind == "xgboost"
    assert np.array_equal(loaded.predict_proba(X), classifier.predict_proba(X))


@pytest.mark.parametrize("name", ["model.json", "model.ubj"])
def test_pickle_named_as_an_xgboost_file_is_refused_and_never_unpickled(tmp_path, name):
    marker = tmp_path / "unpickled"
    path = tmp_path / name
    path.write_bytes(pickle.dumps(Tripwire(str(marker))))
    with pytest.raises(UnsafeArtifactError, match="never loaded"):
        _load(path, "xgboost")
    assert not marker.exists()


def test_other_files_declared_as_xgboost_are_refused_with_a_reason(tmp_path, classifier):
    skops_file = tmp_path / "model.json"
    sio.dump(classifier, skops_file)
    with pytest.raises(JobInputError, match="not an XGBoost model file"):
        _load(skops_file, "xgboost")
    other_json = tmp_path / "config.json"
    other_json.write_text('{"learner": "no"}')
    with pytest.raises(JobInputError, match="could not be parsed"):
        _load(other_json, "xgboost")

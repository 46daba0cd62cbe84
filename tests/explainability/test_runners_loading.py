"""Safe artifact loading: checksums, skops allowlists, pickle refusal, ONNX wrapping."""

import pathlib
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from explainability.runners.data import sha256_file
from explainability.runners.errors import JobInputError, UnsafeArtifactError
from explainability.runners.loading import (
    DEFAULT_TRUSTED_TYPE_PREFIXES,
    PICKLE_REFUSAL,
    is_type_trusted,
    load_model,
)


class CustomScaler(StandardScaler):
    """A scaler class skops has never heard of."""


class Tripwire:
    """Unpickling this touches a file, so a test can prove nothing was unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.path),))


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]), y


@pytest.fixture(scope="module")
def forest(data):
    X, y = data
    return RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y)


def _load(path, fmt="skops", **kwargs):
    return load_model(path, artifact_format=fmt, expected_sha256=sha256_file(path), **kwargs)


def test_skops_model_loads_and_predicts_like_the_original(tmp_path, data, forest):
    X, _ = data
    path = tmp_path / "forest.skops"
    sio.dump(forest, path)
    loaded = _load(path)
    assert loaded.kind == "sklearn"
    assert loaded.feature_names == list(X.columns)
    assert loaded.classes == [0, 1]
    assert np.array_equal(loaded.predict_proba(X), forest.predict_proba(X))
    # an array in feature order works too, and so does a frame with extra / shuffled columns
    assert np.array_equal(loaded.predict(X.to_numpy()), forest.predict(X))
    shuffled = X[X.columns[::-1]].assign(extra=1.0)
    assert np.array_equal(loaded.predict_proba(shuffled), forest.predict_proba(X))


def test_sha_mismatch_is_refused_before_anything_is_parsed(tmp_path, forest):
    path = tmp_path / "forest.skops"
    sio.dump(forest, path)
    with pytest.raises(UnsafeArtifactError, match="sha256 is .* but 0{64} was registered"):
        load_model(path, artifact_format="skops", expected_sha256="0" * 64)
    with pytest.raises(UnsafeArtifactError, match="missing or malformed"):
        load_model(path, artifact_format="skops", expected_sha256="")


def test_pickle_file_is_refused_and_never_unpickled(tmp_path):
    tripwire = tmp_path / "tripwire"
    path = tmp_path / "model.bin"
    path.write_bytes(pickle.dumps(Tripwire(str(tripwire))))
    for fmt in ("skops", "onnx", "pickle"):
        with pytest.raises(UnsafeArtifactError) as excinfo:
            _load(path, fmt)
        assert str(excinfo.value) == PICKLE_REFUSAL
    assert not tripwire.exists()


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3)])
def test_joblib_files_are_refused_whatever_the_compression(tmp_path, forest, compress):
    path = tmp_path / "model.bin"
    joblib.dump(forest, path, compress=compress)
    with pytest.raises(UnsafeArtifactError, match="Pickle/joblib artifacts are never loaded"):
        _load(path, "skops")


def test_joblib_extension_and_format_names_are_refused(tmp_path, forest):
    path = tmp_path / "model.joblib"
    sio.dump(forest, path)  # even a real skops payload under a pickle name is refused
    with pytest.raises(UnsafeArtifactError, match="never loaded"):
        _load(path, "skops")
    with pytest.raises(UnsafeArtifactError, match="never loaded"):
        _load(tmp_path / "model.joblib", "joblib")


def test_unknown_format_is_refused(tmp_path, forest):
    path = tmp_path / "forest.skops"
    sio.dump(forest, path)
    with pytest.raises(UnsafeArtifactError, match="format 'h5' is not supported"):
        _load(path, "h5")


def test_untrusted_custom_type_is_refused_naming_it(tmp_path, data):
    X, y = data
    model = make_pipeline(CustomScaler(), LogisticRegression()).fit(X, y)
    path = tmp_path / "custom.skops"
    sio.dump(model, path)
    with pytest.raises(UnsafeArtifactError, match=r"not on the allowlist: \S*CustomScaler"):
        _load(path)


def test_denied_function_under_a_trusted_prefix_is_refused(tmp_path, data):
    X, y = data
    model = make_pipeline(FunctionTransformer(np.load), LogisticRegression())
    path = tmp_path / "evil.skops"
    sio.dump(model, path)
    with pytest.raises(UnsafeArtifactError, match="numpy.load"):
        _load(path)


def test_allowlist_matches_exact_names_and_dotted_prefixes():
    assert is_type_trusted("sklearn.tree._tree.Tree", DEFAULT_TRUSTED_TYPE_PREFIXES)
    assert is_type_trusted("collections.OrderedDict", DEFAULT_TRUSTED_TYPE_PREFIXES)
    assert not is_type_trusted("sklearnx.Evil", DEFAULT_TRUSTED_TYPE_PREFIXES)
    assert not is_type_trusted("collections.OrderedDictX", DEFAULT_TRUSTED_TYPE_PREFIXES)
    assert not is_type_trusted("builtins.eval", DEFAULT_TRUSTED_TYPE_PREFIXES)
    assert not is_type_trusted("numpy.load", DEFAULT_TRUSTED_TYPE_PREFIXES)
    assert is_type_trusted("mylib.Model", ["mylib.*"])


def test_narrower_allowlist_refuses_lightgbm(tmp_path, data):
    lightgbm = pytest.importorskip("lightgbm")
    X, y = data
    model = lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, y)
    path = tmp_path / "lgbm.skops"
    sio.dump(model, path)
    loaded = _load(path)
    assert loaded.kind == "lightgbm"
    assert np.allclose(loaded.predict_proba(X), model.predict_proba(X))
    with pytest.raises(UnsafeArtifactError, match="lightgbm.basic.Booster"):
        _load(path, trusted_types=["sklearn."])


def test_skops_file_without_a_model_is_refused(tmp_path):
    path = tmp_path / "dict.skops"
    sio.dump({"weights": [1, 2, 3]}, path)
    with pytest.raises(JobInputError, match="not a model with predict"):
        _load(path)


def test_garbage_is_not_a_skops_archive(tmp_path):
    path = tmp_path / "garbage.skops"
    path.write_bytes(b"hello world")
    with pytest.raises(UnsafeArtifactError, match="not a skops archive"):
        _load(path)


@pytest.mark.parametrize("zipmap", [True, False])
def test_onnx_classifier_matches_sklearn(tmp_path, data, zipmap):
    skl2onnx = pytest.importorskip("skl2onnx")
    X, y = data
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X.to_numpy(), y)
    options = None if zipmap else {id(model): {"zipmap": False}}
    onx = skl2onnx.to_onnx(
        model, X.to_numpy()[:1].astype(np.float32), options=options, target_opset=17
    )
    path = tmp_path / "model.onnx"
    path.write_bytes(onx.SerializeToString())
    loaded = _load(path, "onnx")
    assert loaded.kind == "onnx"
    proba = loaded.predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert np.allclose(proba, model.predict_proba(X.to_numpy()), atol=1e-5)
    assert np.array_equal(loaded.predict(X), model.predict(X.to_numpy()))


def test_skops_file_declared_as_onnx_is_refused(tmp_path, forest):
    path = tmp_path / "forest.onnx"
    sio.dump(forest, path)
    with pytest.raises(UnsafeArtifactError, match="zip archive"):
        _load(path, "onnx")

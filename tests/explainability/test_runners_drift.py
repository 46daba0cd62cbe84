"""Drift runner: PSI/KS/chi-square verdicts, importance drift and input errors."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, ks_2samp

from explainability.runners.drift import importance_drift, psi, run_drift
from explainability.runners.errors import JobInputError


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(7)
    n = 4000

    def sample(shift: float, city_p):
        return pd.DataFrame(
            {
                "income": rng.normal(50_000, 12_000, n) + shift * 12_000,
                "age": rng.normal(40, 10, n),
                "binary": rng.integers(0, 2, n),
                "city": rng.choice(["north", "south", "east"], n, p=city_p),
                "segment": rng.choice(["a", "b"], n),
            }
        )

    return sample(0.0, [0.5, 0.3, 0.2]), sample(1.0, [0.2, 0.3, 0.5])


def _by_feature(result):
    return {item["feature"]: item for item in result["features"]}


def test_a_one_sd_shift_is_drift_and_unshifted_features_are_stable(frames):
    reference, current = frames
    result = run_drift(reference, current)
    features = _by_feature(result)
    assert features["income"]["verdict"] == "drift"
    assert features["income"]["psi"] > 0.25
    assert features["income"]["mean_shift_sd"] == pytest.approx(1.0, abs=0.1)
    assert features["age"]["verdict"] == "stable" and features["age"]["psi"] < 0.1
    assert features["binary"]["verdict"] == "stable"
    assert features["segment"]["verdict"] == "stable"
    assert features["city"]["type"] == "categorical" and features["city"]["verdict"] == "drift"
    assert result["verdict"] == "drift"
    assert set(result["summary"]["drifted"]) == {"income", "city"}
    assert result["features"][0]["psi"] >= result["features"][-1]["psi"]
    assert json.loads(json.dumps(result, allow_nan=False)) == result


def test_statistics_equal_scipy(frames):
    reference, current = frames
    features = _by_feature(run_drift(reference, current))
    ks = ks_2samp(reference["age"], current["age"])
    assert features["age"]["ks_statistic"] == pytest.approx(ks.statistic)
    assert features["age"]["ks_pvalue"] == pytest.approx(ks.pvalue)
    table = [
        [(reference.city == c).sum() for c in ("north", "south", "east")],
        [(current.city == c).sum() for c in ("north", "south", "east")],
    ]
    assert features["city"]["chi2_pvalue"] == pytest.approx(chi2_contingency(table).pvalue)


def test_psi_uses_reference_quantile_bins_and_floors_empty_bins():
    assert psi([50, 50], [50, 50]) == 0.0
    expected = (0.9 - 0.5) * np.log(0.9 / 0.5) + (0.1 - 0.5) * np.log(0.1 / 0.5)
    assert psi([50, 50], [90, 10]) == pytest.approx(expected)
    assert np.isfinite(psi([100, 0], [0, 100]))
    reference = pd.DataFrame({"x": np.arange(1000.0)})
    result = run_drift(reference, reference.copy(), psi_bins=4)
    bins = result["features"][0]["bins"]
    assert [b["upper"] for b in bins][:3] == pytest.approx(
        np.quantile(np.arange(1000.0), [0.25, 0.5, 0.75])
    )
    assert all(b["reference_share"] == pytest.approx(0.25) for b in bins)


def test_missing_values_get_their_own_bin(frames):
    reference, current = frames
    holes = current.assign(age=current.age.where(np.arange(len(current)) % 3 != 0))
    feature = _by_feature(run_drift(reference, holes, features=["age"]))["age"]
    assert feature["bins"][-1]["label"] == "(missing)"
    assert feature["current"]["missing_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert feature["verdict"] == "drift"


def test_new_categories_are_named(frames):
    reference, current = frames
    moved = current.assign(city=current.city.replace({"east": "west"}))
    feature = _by_feature(run_drift(reference, moved, features=["city"]))["city"]
    assert feature["new_categories"] == ["west"]
    assert any("new categories: west" in reason for reason in feature["reasons"])


def test_listed_categorical_numeric_column_is_compared_by_category(frames):
    reference, current = frames
    feature = _by_feature(run_drift(reference, current, categorical=["binary"]))["binary"]
    assert feature["type"] == "categorical" and {b["label"] for b in feature["bins"]} == {"0", "1"}


def test_thresholds_can_be_tightened(frames):
    reference, current = frames
    result = run_drift(
        reference, current, features=["age"], thresholds={"psi": {"warn": 0.0, "alert": 0.5}}
    )
    assert result["features"][0]["verdict"] == "warn"
    with pytest.raises(JobInputError, match="Unknown drift threshold 'pvalue'"):
        run_drift(reference, current, thresholds={"pvalue": 0.05})


def test_importance_drift_ranks_and_shares():
    reference = {"income": 0.5, "age": 0.3, "city": 0.2}
    current = [
        {"feature": "income", "mean_abs_shap": 0.1},
        {"feature": "age", "mean_abs_shap": 0.3},
        {"feature": "city", "mean_abs_shap": 0.6},
    ]
    result = importance_drift(reference, current)
    assert result["total_variation"] == pytest.approx(0.4)
    assert result["verdict"] == "drift"
    income = next(item for item in result["features"] if item["feature"] == "income")
    assert (income["reference_rank"], income["current_rank"], income["rank_change"]) == (1, 3, -2)
    assert income["share_change"] == pytest.approx(-0.4)
    assert result["spearman"] == pytest.approx(-1.0)
    same = importance_drift(
        reference,
        {"feature_importance": [{"feature": k, "mean_abs_shap": v} for k, v in reference.items()]},
    )
    assert same["verdict"] == "stable" and same["total_variation"] == 0


def test_importance_drift_is_part_of_the_overall_verdict():
    frame = pd.DataFrame({"x": np.arange(100.0)})
    result = run_drift(
        frame, frame, reference_importance={"x": 1, "y": 0}, current_importance={"x": 0, "y": 1}
    )
    assert result["features"][0]["verdict"] == "stable"
    assert result["importance"]["verdict"] == "drift" and result["verdict"] == "drift"


def test_missing_columns_and_empty_frames_are_explained(frames):
    reference, current = frames
    with pytest.raises(JobInputError, match="Column 'age' is missing from the current dataset"):
        run_drift(reference, current.drop(columns="age"))
    with pytest.raises(JobInputError, match="Columns 'zip', 'age' are missing from the reference"):
        run_drift(reference.drop(columns="age"), current.assign(zip=1), features=["zip", "age"])
    with pytest.raises(JobInputError, match="The current dataset has no rows"):
        run_drift(reference, current.iloc[:0])


def test_ks_test_equals_scipy_statistic_and_p_value_for_large_samples():
    """The statistic is scipy's exactly; the p-value is scipy's where sqrt(n)·D < 1.2, within
    0.5 % of it in the tail down to 1e-6 (Stephens' corrected limit) and within 5 % beyond."""
    from scipy.stats import ks_2samp

    from explainability.runners.drift import ks_test

    rng = np.random.default_rng(5)
    for n, shift in ((800, 0.0), (800, 0.3), (30_000, 0.0), (30_000, 0.005), (30_000, 0.05),
                     (60_000, 0.02)):
        a = np.sort(rng.normal(size=n))
        b = np.sort(np.round(rng.normal(shift, size=n + 7), 3))  # ties too
        statistic, pvalue = ks_test(a, b)
        reference = ks_2samp(a, b)
        assert statistic == reference.statistic
        tail = reference.pvalue < 1e-6  # the deep tail: far below any threshold
        assert pvalue == pytest.approx(reference.pvalue, rel=5e-2 if tail else 5e-3, abs=1e-300)


def _previous_numeric(ref: pd.Series, cur: pd.Series, bins: int) -> dict:
    """The previous implementation's numeric comparison (before the sorted reference profile
    and the merge-walk KS statistic), kept here as the reference the new one must equal."""
    from explainability.runners.drift import psi as psi_of

    a = np.sort(ref.to_numpy(float)[np.isfinite(ref.to_numpy(float))])
    b = np.sort(cur.to_numpy(float)[np.isfinite(cur.to_numpy(float))])
    edges = np.unique(np.quantile(a, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_counts = np.diff(np.r_[0, np.searchsorted(a, edges, "left"), a.size]).tolist()
    cur_counts = np.diff(np.r_[0, np.searchsorted(b, edges, "left"), b.size]).tolist()
    missing = (len(ref) - a.size, len(cur) - b.size)
    if any(missing):
        ref_counts.append(missing[0])
        cur_counts.append(missing[1])
    n1, n2 = a.size, b.size
    gap_at_a = np.searchsorted(a, a, "right") / n1 - np.searchsorted(b, a, "right") / n2
    gap_at_b = np.searchsorted(a, b, "right") / n1 - np.searchsorted(b, b, "right") / n2
    max_s = max(gap_at_a.max(), gap_at_b.max())
    min_s = float(np.clip(-min(gap_at_a.min(), gap_at_b.min()), 0, 1))
    return {
        "psi": psi_of(ref_counts, cur_counts),
        "ks_statistic": min_s if min_s > max_s else float(max_s),
        "reference_counts": ref_counts,
        "current_counts": cur_counts,
        "mean": float(b.mean()),
        "std": float(b.std(ddof=1)),
        "min": float(b.min()),
        "max": float(b.max()),
        "mean_shift_sd": float((b.mean() - a.mean()) / a.std(ddof=1)),
    }


def test_numeric_results_equal_the_previous_implementation_with_or_without_a_profile(tmp_path):
    from explainability.runners.drift import profile_reference
    from explainability.runners.drift_profile import load_profile, save_profile

    rng = np.random.default_rng(21)

    def sample(n, shift):
        frame = pd.DataFrame({
            "smooth": rng.normal(shift, 1, n),
            "tied": np.round(rng.normal(shift, 1, n), 1),  # ties within and across samples
            "gappy": rng.exponential(1 + shift, n),
        })
        frame.loc[rng.random(n) < 0.03, "gappy"] = np.nan
        return frame

    reference, current = sample(30_000, 0.0), sample(25_000, 0.08)  # above scipy's exact range
    direct = run_drift(reference, current, psi_bins=12)
    profiled = run_drift(profile_reference(reference), current, psi_bins=12)
    assert profiled == direct
    save_profile(profile_reference(reference), tmp_path / "profile.npz")
    stored = load_profile(tmp_path / "profile.npz", read=lambda: pytest.fail("rows read"))
    assert run_drift(stored, current, psi_bins=12) == direct  # other bins than the stored edges'
    assert run_drift(stored, current) == run_drift(reference, current)
    for item in direct["features"]:
        before = _previous_numeric(reference[item["feature"]], current[item["feature"]], 12)
        assert item["psi"] == before["psi"]
        assert item["ks_statistic"] == before["ks_statistic"]
        assert [b["reference"] for b in item["bins"]] == before["reference_counts"]
        assert [b["current"] for b in item["bins"]] == before["current_counts"]
        for key in ("mean", "std", "min", "max"):
            assert item["current"][key] == before[key]
        assert item["mean_shift_sd"] == before["mean_shift_sd"]


def test_a_stored_profile_is_the_same_bytes_whoever_writes_it_and_reads_rows_only_if_needed(
    frames, tmp_path
):
    from explainability.runners.drift import profile_reference
    from explainability.runners.drift_profile import load_profile, save_profile

    reference, current = frames
    used = profile_reference(reference)
    run_drift(used, current, psi_bins=5)  # edges of other bins computed and kept in memory
    save_profile(used, tmp_path / "a.npz")
    save_profile(profile_reference(reference), tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()

    reads = []
    stored = load_profile(tmp_path / "a.npz", read=lambda: reads.append(1) or reference)
    assert len(stored) == len(reference) and stored.columns == list(reference.columns)
    assert run_drift(stored, current, features=["income", "age"]) == run_drift(
        reference, current, features=["income", "age"])
    assert reads == []
    assert run_drift(stored, current, categorical=["binary"]) == run_drift(
        reference, current, categorical=["binary"])
    assert reads == [1]  # city, segment and the listed binary need the reference's rows


def test_a_file_that_is_not_a_drift_profile_is_refused_and_never_unpickled(tmp_path):
    from explainability.runners.drift_profile import ProfileUnreadable, load_profile

    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip at all")
    other = tmp_path / "other.npz"
    np.savez(other, meta=np.frombuffer(b'{"format": "something else"}', dtype=np.uint8))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, meta=np.array([{"format": "x"}], dtype=object))
    for path in (garbage, other, pickled):
        with pytest.raises(ProfileUnreadable):
            load_profile(path, read=lambda: pytest.fail("rows read"))

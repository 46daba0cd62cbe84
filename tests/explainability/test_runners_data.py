"""Data helpers: reading tables, checking features, filters, hashing, JSON conversion."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from explainability.runners.data import (
    apply_filters,
    check_features,
    iter_table,
    parse_filter,
    read_table,
    sha256_file,
)
from explainability.runners.errors import JobInputError
from explainability.runners.jsonable import to_jsonable


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "income": [10.0, 20.0, np.nan, 40.0, 50.0],
            "days_between": [-40, -10, 0, 25, 31],
            "race": ["African-American", "Caucasian", "O'Neil", None, "Caucasian"],
            "flag": [True, False, True, False, True],
        }
    )


@pytest.mark.parametrize("name", ["data.csv", "data.csv.gz", "data.parquet", "data.PQ"])
def test_read_table_reads_csv_and_parquet_and_selects_columns_in_order(tmp_path, frame, name):
    path = tmp_path / name
    if "csv" in name:
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    whole = read_table(path)
    assert list(whole.columns) == list(frame.columns) and len(whole) == 5
    picked = read_table(path, columns=["race", "income"])
    assert list(picked.columns) == ["race", "income"]
    assert picked["income"].iloc[1] == 20.0
    chunks = list(iter_table(path, columns=["income"], chunk_rows=2))
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    with pytest.raises(JobInputError, match="Columns 'zip', 'age' are missing from the dataset"):
        read_table(path, columns=["zip", "income", "age"])


def test_read_table_refuses_unknown_formats_and_missing_files(tmp_path):
    (tmp_path / "data.xlsx").write_bytes(b"x")
    with pytest.raises(JobInputError, match="is not CSV or Parquet"):
        read_table(tmp_path / "data.xlsx")
    with pytest.raises(JobInputError, match="'nope.csv' does not exist"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(JobInputError, match="could not be read as PARQUET"):
        read_table(tmp_path / "bad.parquet")


def test_sha256_file_streams_the_whole_file(tmp_path):
    path = tmp_path / "blob"
    payload = np.random.default_rng(0).bytes(3 * 1024 * 1024 + 17)
    path.write_bytes(payload)
    assert sha256_file(path) == hashlib.sha256(payload).hexdigest()


def test_check_features_reports_missing_and_non_numeric_together(frame):
    with pytest.raises(JobInputError) as excinfo:
        check_features(frame, ["income", "race", "zip"])
    message = str(excinfo.value)
    assert "Column 'zip' is missing from the dataset" in message
    assert "the model's signature expects: income, race, zip" in message
    assert "Column 'race' (" in message and "is not numeric" in message
    assert list(check_features(frame, ["flag", "income"]).columns) == ["flag", "income"]
    with pytest.raises(JobInputError, match="^The dataset has no rows$"):
        check_features(frame.iloc[:0], ["income"])


@pytest.mark.parametrize(
    ("text", "column", "op", "value"),
    [
        ("days_between >= -30", "days_between", ">=", -30),
        ("outcome != -1", "outcome", "!=", -1),
        ("race == 'African-American'", "race", "==", "African-American"),
        ('race == "O\'Neil"', "race", "==", "O'Neil"),
        ("race == 'O\\'Neil'", "race", "==", "O'Neil"),
        ("score<1.5e2", "score", "<", 150.0),
        ("`days since` > .5", "days since", ">", 0.5),
        ("flag == true", "flag", "==", True),
    ],
)
def test_filters_parse_without_eval(text, column, op, value):
    parsed = parse_filter(text)
    assert (parsed.column, parsed.op, parsed.value) == (column, op, value)
    assert type(parsed.value) is type(value)
    assert parse_filter(parsed.describe()) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('x')", "is not understood"),
        ("income >= abs(3)", "must be a number"),
        ("income >= 'abc", "must be a number"),
        ("income", "is not understood"),
    ],
)
def test_filters_that_are_not_comparisons_are_refused(text, message):
    with pytest.raises(JobInputError, match=message):
        parse_filter(text)


def test_apply_filters_keeps_order_skips_missing_and_describes_each_step(frame):
    kept, described = apply_filters(frame, ["days_between >= -30", "income != 40"])
    assert kept["days_between"].tolist() == [-10, 31]  # the NaN income row never passes !=
    assert described == [
        {"filter": "days_between >= -30", "rows_before": 5, "rows_after": 4},
        {"filter": "income != 40", "rows_before": 4, "rows_after": 2},
    ]
    kept, _ = apply_filters(frame, ['race == "O\'Neil"'])
    assert kept["days_between"].tolist() == [0]
    kept, _ = apply_filters(frame, ["race != 'Caucasian'"])
    assert kept["race"].tolist() == ["African-American", "O'Neil"]
    kept, _ = apply_filters(frame, ["flag == true"])
    assert len(kept) == 3
    assert apply_filters(frame, [])[0] is frame


def test_apply_filters_errors_name_the_problem(frame):
    with pytest.raises(JobInputError, match="names column 'zip', which is not in the dataset"):
        apply_filters(frame, ["zip == 1"])
    with pytest.raises(JobInputError, match="text can only be compared with == or !="):
        apply_filters(frame, ["race > 'A'"])
    with pytest.raises(
        JobInputError, match=r"The filters income > 100 \(left 0\) removed every row"
    ):
        apply_filters(frame, ["income > 100"])
    kept, described = apply_filters(frame, ["income > 100"], require_rows=False)
    assert len(kept) == 0 and described[0]["rows_after"] == 0


def test_to_jsonable_makes_numpy_and_nan_json_safe():
    value = {
        "a": np.float32(1.5),
        "b": np.int64(3),
        "c": float("nan"),
        "d": np.array([1.0, np.inf]),
        "e": (np.bool_(True), None),
        1: "key",
    }
    converted = to_jsonable(value)
    assert converted == {
        "a": 1.5,
        "b": 3,
        "c": None,
        "d": [1.0, None],
        "e": [True, None],
        "1": "key",
    }
    json.dumps(converted, allow_nan=False)

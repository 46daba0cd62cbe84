"""Reading datasets and checking them against what a model needs.

The rules: only CSV (``.csv``, ``.csv.gz``) and Parquet (``.parquet``, ``.pq``) are read, chosen by
extension; a requested column that is absent is a JobInputError naming it; a model's features must
all be present and numeric (bool counts as numeric) and the data must have rows. Filters live in
``filters`` and are re-exported here.
"""

import hashlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from .errors import JobInputError
from .filters import apply_filters, parse_filter, parse_filters

__all__ = [
    "apply_filters",
    "check_features",
    "iter_table",
    "parse_filter",
    "parse_filters",
    "read_table",
    "require_columns",
    "sha256_file",
    "table_format",
]

_FORMATS = {".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet", ".pq": "parquet"}


def sha256_file(path: str | os.PathLike[str], *, block_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed so large files use constant memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(block_size):
            digest.update(block)
    return digest.hexdigest()


def table_format(path: str | os.PathLike[str]) -> str:
    """``"csv"`` or ``"parquet"`` from the file name; anything else is a JobInputError."""
    name = os.fspath(path).lower()
    for suffix, fmt in sorted(_FORMATS.items(), key=lambda item: -len(item[0])):
        if name.endswith(suffix):
            return fmt
    raise JobInputError(
        f"Dataset file '{os.path.basename(name)}' is not CSV or Parquet; "
        f"supported extensions: {', '.join(_FORMATS)}"
    )


def read_table(
    path: str | os.PathLike[str], *, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Read a whole CSV/Parquet file, optionally only ``columns`` (returned in that order)."""
    fmt = table_format(path)
    wanted = _checked_columns(path, fmt, columns)
    try:
        if fmt == "csv":
            frame = _read_csv(path, wanted)
        else:
            frame = pd.read_parquet(path, columns=wanted)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise JobInputError(f"The dataset could not be read as {fmt.upper()}: {exc}") from exc
    return frame if wanted is None else frame[wanted]


def _read_csv(path: str | os.PathLike[str], columns: list[str] | None) -> pd.DataFrame:
    # pyarrow's reader parses on every core, several times faster than pandas' own at a million
    # rows; a file it cannot type (a column numeric in its first block, text later) is read
    # again by pandas, which types whole columns.
    import pyarrow

    try:
        return pd.read_csv(path, usecols=columns, engine="pyarrow")
    except (pyarrow.ArrowInvalid, ValueError):
        return pd.read_csv(path, usecols=columns, low_memory=False)


def iter_table(
    path: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    chunk_rows: int = 250_000,
) -> Iterator[pd.DataFrame]:
    """Yield the file in frames of at most ``chunk_rows`` rows (for summable computations)."""
    fmt = table_format(path)
    wanted = _checked_columns(path, fmt, columns)
    try:
        if fmt == "csv":
            with pd.read_csv(path, usecols=wanted, chunksize=chunk_rows, low_memory=False) as it:
                for frame in it:
                    yield frame if wanted is None else frame[wanted]
        else:
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(path)
            for batch in parquet.iter_batches(batch_size=chunk_rows, columns=wanted):
                yield batch.to_pandas()
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise JobInputError(f"The dataset could not be read as {fmt.upper()}: {exc}") from exc


def require_columns(df: pd.DataFrame, columns: Sequence[str], *, role: str) -> None:
    """Raise JobInputError naming every column of ``columns`` that ``df`` lacks."""
    missing = [column for column in columns if column not in df.columns]
    if missing:
        raise JobInputError(
            f"{_columns_phrase(missing)} from the dataset ({role}); "
            f"the dataset has: {_names(df.columns)}"
        )


def check_features(df: pd.DataFrame, feature_names: Sequence[str]) -> pd.DataFrame:
    """Return ``df[feature_names]`` after checking rows exist and every feature is numeric.

    Missing and non-numeric columns are reported together so one upload can fix both.
    """
    if len(df) == 0:
        raise JobInputError("The dataset has no rows")
    features = list(feature_names)
    if not features:
        raise JobInputError("No feature columns were given")
    problems: list[str] = []
    missing = [name for name in features if name not in df.columns]
    if missing:
        problems.append(
            f"{_columns_phrase(missing)} from the dataset; "
            f"the model's signature expects: {_names(features)}"
        )
    non_numeric = [
        f"'{name}' ({df[name].dtype})"
        for name in features
        if name in df.columns
        and not (is_numeric_dtype(df[name].dtype) or is_bool_dtype(df[name].dtype))
    ]
    if non_numeric:
        problems.append(
            f"{'Column' if len(non_numeric) == 1 else 'Columns'} {', '.join(non_numeric)} "
            f"{'is' if len(non_numeric) == 1 else 'are'} not numeric; the model needs numeric "
            f"features, so encode them as the training pipeline did"
        )
    if problems:
        raise JobInputError(". ".join(problems))
    return df[features]


def _checked_columns(
    path: str | os.PathLike[str], fmt: str, columns: Sequence[str] | None
) -> list[str] | None:
    if not os.path.exists(path):
        raise JobInputError(
            f"The dataset file '{os.path.basename(os.fspath(path))}' does not exist"
        )
    if columns is None:
        return None
    wanted = list(dict.fromkeys(columns))
    try:
        if fmt == "csv":
            available = list(pd.read_csv(path, nrows=0).columns)
        else:
            import pyarrow.parquet as pq

            available = list(pq.read_schema(path).names)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise JobInputError(f"The dataset could not be read as {fmt.upper()}: {exc}") from exc
    missing = [column for column in wanted if column not in available]
    if missing:
        raise JobInputError(
            f"{_columns_phrase(missing)} from the dataset; it has: {_names(available)}"
        )
    return wanted


def _columns_phrase(missing: Sequence[Any]) -> str:
    quoted = ", ".join(f"'{name}'" for name in missing)
    return f"Column {quoted} is missing" if len(missing) == 1 else f"Columns {quoted} are missing"


def _names(columns: Any, limit: int = 30) -> str:
    names = [str(name) for name in columns]
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")

"""A drift reference profile as a file: the sorted numeric columns of a reference dataset, with
their quantile edges and summaries, so a comparison on another process or machine does not sort
the reference again.

The format (never pickle): an uncompressed NumPy ``.npz`` (a zip of ``.npy`` members, read back
with ``allow_pickle=False``) holding one float64 array per numeric column (``values_<i>``, the
i-th of ``meta.numeric``) and ``meta``, the UTF-8 JSON of ``{"format", "rows", "columns",
"numeric", "sides": [{"rows", "summary", "edges": {"10": [edge, ...]}}]}``. Python's JSON writes
floats by their shortest repr and reads them back to the same double, so summaries and edges
are exact. Members carry a fixed timestamp, so the same profile always makes the same bytes
(the file can be stored under its own sha256, once, whichever worker wrote it).

A file that is not such a profile raises ``ProfileUnreadable``; the caller rebuilds it.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .drift import ReferenceProfile, _Side

FORMAT = "gatehouse-drift-reference/1"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip member can carry
#: The edges kept in the file are the default bins' (a job asking for other bins computes its
#: edges from the sorted values, milliseconds): the bytes depend on the reference alone.
STORED_BINS = 10


class ProfileUnreadable(ValueError):
    """The file is not a drift reference profile this code can read."""


def save_profile(profile: ReferenceProfile, path: Path) -> None:
    """Write ``profile`` (every numeric column sorted first) to ``path``."""
    profile.sort_all()
    numeric = profile.numeric_columns()
    sides = [profile.side(name) for name in numeric]
    meta = {
        "format": FORMAT,
        "rows": len(profile),
        "columns": [str(c) for c in profile.columns],
        "numeric": [str(n) for n in numeric],
        "sides": [
            {
                "rows": side.rows,
                "summary": side.summary,
                "edges": {str(STORED_BINS): side.edges(STORED_BINS).tolist()},
            }
            for side in sides
        ],
    }
    members = [("meta", np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))]
    members += [(f"values_{i}", side.present) for i, side in enumerate(sides)]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in members:
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            with archive.open(info, "w", force_zip64=True) as out:
                np.lib.format.write_array(
                    out, np.ascontiguousarray(array), allow_pickle=False
                )


def load_profile(path: Path, *, read: Callable[[], pd.DataFrame]) -> ReferenceProfile:
    """The profile stored at ``path``; ``read()`` gives the reference frame if a comparison
    needs its rows (categorical features). Raises ``ProfileUnreadable``."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(bytes(stored["meta"]).decode())
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ProfileUnreadable(f"{path.name} is not a {FORMAT} file")
            numeric, described = list(meta["numeric"]), list(meta["sides"])
            if len(numeric) != len(described) or not set(numeric) <= set(meta["columns"]):
                raise ProfileUnreadable(f"{path.name}: its columns and sides disagree")
            sides = {}
            for i, (name, about) in enumerate(zip(numeric, described, strict=True)):
                present = stored[f"values_{i}"]
                if present.dtype != np.float64 or present.ndim != 1:
                    raise ProfileUnreadable(f"{path.name}: values of {name} are not float64")
                edges = {int(b): np.asarray(e, dtype=np.float64)
                         for b, e in about["edges"].items()}
                sides[name] = _Side.restored(present, int(about["rows"]), about["summary"], edges)
        return ReferenceProfile.restored(
            columns=meta["columns"], rows=int(meta["rows"]), sides=sides, read=read
        )
    except ProfileUnreadable:
        raise
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise ProfileUnreadable(f"{path.name} could not be read as a drift profile: {exc}") from exc

"""XGBoost's own model file format (JSON or UBJSON): one rule for registration and for loading.

The format is data: trees, split conditions and parameters, which XGBoost's loader reads into its
own structures without executing anything from the file, so an uploaded file is safe to parse.
Registration parses it (a file that registers is one a job can load); explainability's loader
parses the same bytes again after checking their sha256. Pure: no ORM, no settings.
"""

from __future__ import annotations

from typing import Any

# After the opening "{", UBJSON continues with a length or type marker; JSON with a key's quote.
_UBJ_MARKERS = (b"L", b"l", b"i", b"U", b"I", b"$", b"#", b"}")


class XGBoostFileError(ValueError):
    """The bytes are not an XGBoost model file (the message is a sentence without its stop)."""


def encoding(payload: bytes) -> str | None:
    """``"json"`` or ``"ubj"`` when ``payload`` looks like an XGBoost model file, else None.

    A pickle (0x80), a zip (skops) or an ONNX protobuf never starts with ``{``.
    """
    head = payload[:64].lstrip()
    if not head.startswith(b"{"):
        return None
    if head[1:].lstrip()[:1] == b'"':
        return "json"
    if payload[1:2] in _UBJ_MARKERS:
        return "ubj"
    return None


def parse(payload: bytes) -> Any:
    """An ``xgboost.Booster`` parsed from a JSON/UBJSON model file; XGBoostFileError otherwise."""
    if encoding(payload) is None:
        raise XGBoostFileError(
            "The artifact is not an XGBoost model file (XGBoost's JSON or UBJSON model format, "
            "written by save_model to .json or .ubj)"
        )
    import xgboost

    booster = xgboost.Booster()
    try:
        booster.load_model(bytearray(payload))
    except xgboost.core.XGBoostError as exc:
        lines = str(exc).strip().splitlines()
        raise XGBoostFileError(
            f"The XGBoost model file could not be parsed: {lines[0] if lines else 'unknown error'}"
        ) from exc
    if booster.num_boosted_rounds() == 0 and not booster.num_features():
        raise XGBoostFileError("The XGBoost model file holds no trained model")
    return booster

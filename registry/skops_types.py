"""Which types a .skops artifact may hold: one rule for registration and for loading.

skops lists the types in an archive without loading it (`skops.io.get_untrusted_types`).
Registration refuses an archive holding a type outside the allowlist (so the registry never
holds a version that could never be explained), and explainability's loader applies the same
rule again before it loads the bytes. Pure: no ORM; the configured list comes from settings.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

# Plain literals so settings can copy them verbatim. Prefixes end in "."; other entries are exact.
# skops reports e.g. "sklearn.tree._tree.Tree", "lightgbm.basic.Booster",
# "lightgbm.sklearn.LGBMClassifier" and "collections.OrderedDict" (LightGBM's params).
DEFAULT_TRUSTED_TYPE_PREFIXES: list[str] = [
    "sklearn.",
    "lightgbm.",
    "xgboost.",
    "numpy.",
    "scipy.",
    "collections.OrderedDict",
    "collections.defaultdict",
]

# Defence in depth: callables under trusted prefixes that read or write files or load code.
# skops never calls them while loading, but a FunctionTransformer would call them when scoring.
DENIED_TYPE_PREFIXES: list[str] = [
    "numpy.load",
    "numpy.save",
    "numpy.savez",
    "numpy.savez_compressed",
    "numpy.savetxt",
    "numpy.loadtxt",
    "numpy.genfromtxt",
    "numpy.fromfile",
    "numpy.tofile",
    "numpy.memmap",
    "numpy.ctypeslib.",
    "numpy.lib.npyio.",
    "numpy.lib.format.",
    "numpy.f2py.",
    "numpy.distutils.",
    "numpy.testing.",
    "scipy.io.",
    "scipy.misc.",
    "scipy._lib.",
    "sklearn.datasets.",
    "sklearn.externals.",
    "sklearn.utils._testing.",
    "lightgbm.callback.",
    "lightgbm.engine.",
]

#: Trusting every builtin (eval, exec, open...) would defeat the allowlist, whatever settings say.
NEVER_TRUSTED_ENTRIES = {"builtins.", "builtins", "builtins.*", "posix.", "os.", "nt."}


class SkopsInspectionError(ValueError):
    """The archive could not be read as a skops file (its type list is unknown)."""


def configured_trusted_types() -> list[str]:
    """The allowlist in force: TRUSTED_SKOPS_TYPE_PREFIXES, less entries never to be trusted."""
    from django.conf import settings

    configured = getattr(settings, "TRUSTED_SKOPS_TYPE_PREFIXES", DEFAULT_TRUSTED_TYPE_PREFIXES)
    return [t for t in configured if t.strip() and t.strip() not in NEVER_TRUSTED_ENTRIES]


def _matches(type_name: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        prefix = pattern[:-1] if pattern.endswith(".*") else pattern
        if prefix.endswith("."):
            if type_name.startswith(prefix):
                return True
        elif type_name == prefix:
            return True
    return False


def is_type_trusted(type_name: str, trusted_types: Sequence[str]) -> bool:
    """Whether ``type_name`` matches the allowlist and no deny-list entry.

    Entries ending in ``.`` (or ``.*``) are prefixes; every other entry must match exactly.
    """
    if _matches(type_name, DENIED_TYPE_PREFIXES):
        return False
    return _matches(type_name, trusted_types)


def reported_types(
    payload: bytes | None = None, *, file: str | os.PathLike | None = None
) -> list[str]:
    """Every type skops would need to be told to trust for this archive (bytes, or a file read
    from disk without holding it whole in memory); nothing is loaded."""
    import skops.io as sio

    try:
        if file is not None:
            return list(sio.get_untrusted_types(file=file))
        return list(sio.get_untrusted_types(data=payload))
    except Exception as exc:  # a malformed archive can fail in zipfile, json or skops itself
        raise SkopsInspectionError(f"The skops file could not be inspected: {exc}") from exc


def refused_types(reported: Sequence[str], trusted_types: Sequence[str]) -> list[str]:
    """The reported type names the allowlist does not cover, sorted (empty: all trusted)."""
    return sorted({name for name in reported if not is_type_trusted(name, trusted_types)})

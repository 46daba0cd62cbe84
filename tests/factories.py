"""Small factories: real (tiny) models and data files, and registry rows through services."""

from __future__ import annotations

import io
import pickle
from functools import lru_cache

import numpy as np

from governance.models import Team
from registry import services


@lru_cache(maxsize=1)
def skops_bytes() -> bytes:
    """A real logistic regression, trained on a fixed seed and saved with skops."""
    import skops.io
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return skops.io.dumps(LogisticRegression().fit(X, y))


def pickle_bytes() -> bytes:
    return pickle.dumps({"weights": [1, 2, 3]})


def upload(data: bytes, name: str) -> io.BytesIO:
    buf = io.BytesIO(data)
    buf.name = name
    return buf


def team(name: str = "credit") -> Team:
    return Team.objects.get_or_create(name=name)[0]


def model(actor, name: str = "credit-default", team_name: str = "credit", **kw):
    return services.model_register(actor=actor, name=name, team=team(team_name), **kw)


def dataset(actor, name: str = "loans", team_name: str = "credit", **kw):
    return services.dataset_register(actor=actor, name=name, team=team(team_name), **kw)


def dataset_version(actor, ds, *, csv: bytes = b"a,b,label\n1,2,0\n3,4,1\n"):
    return services.dataset_version_register(
        actor=actor, dataset=ds, file=upload(csv, "data.csv"), filename="data.csv"
    )


def version(actor, mdl, **kw):
    kw.setdefault("artifact_file", upload(skops_bytes(), "model.skops"))
    kw.setdefault("artifact_filename", "model.skops")
    return services.model_version_register(actor=actor, model=mdl, **kw)

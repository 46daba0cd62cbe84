"""Portal fixtures: a signed-in browser-like client per persona, and a small registry."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests import factories


@pytest.fixture
def web_for(personas):
    """web_for("auditor") → a django test Client signed in (session) as that persona."""

    def _client(name: str) -> Client:
        client = Client()
        client.force_login(personas[name])
        return client

    return _client


@pytest.fixture
def registry(personas):
    """loans@1 → credit-default@1 → credit-challenger@1, holdout@1 evaluates the challenger;
    fraud-score belongs to another team."""
    eng = personas["engineer"]
    loans = factories.dataset_version(eng, factories.dataset(eng, name="loans"))
    holdout = factories.dataset_version(eng, factories.dataset(eng, name="holdout"))
    base = factories.model(eng, name="credit-default", owner="owner", developers=["engineer"])
    v1 = factories.version(
        eng, base, training_datasets=[loans.ref], metrics={"auc": 0.81},
        hyperparameters={"C": 0.5},
    )
    challenger = factories.model(eng, name="credit-challenger")
    c1 = factories.version(eng, challenger, parents=[v1.ref], evaluation_datasets=[holdout.ref])
    other = personas["other_engineer"]
    fraud = factories.model(other, name="fraud-score", team_name="fraud")
    f1 = factories.version(other, fraud, training_datasets=[loans.ref])
    return {"loans": loans, "holdout": holdout, "v1": v1, "c1": c1, "f1": f1,
            "base": base, "challenger": challenger, "fraud": fraud}


POST_FORM = re.compile(r"<form[^>]*method=\"post\"[^>]*>", re.I)


def write_forms(html: str) -> list[str]:
    """Every POST form on a page except signing out."""
    return [f for f in POST_FORM.findall(html) if "/accounts/logout/" not in f]

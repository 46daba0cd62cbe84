"""The demo loader runs real jobs for the demo model, once."""

from __future__ import annotations

import io

import pytest

from demo.management.commands import load_demo
from explainability.demo import load_explainability_demo
from explainability.models import Job

pytestmark = pytest.mark.django_db


def test_demo_runs_real_shap_fairness_and_drift_jobs_once(settings):
    settings.JOB_HEARTBEAT_SECONDS = 3600
    users = load_demo.ensure_users()
    load_demo.ensure_registry(users, io.StringIO())
    out = io.StringIO()

    load_explainability_demo(users, out)
    load_explainability_demo(users, out)

    jobs = list(Job.objects.order_by("id"))
    assert [(j.kind, j.status) for j in jobs] == [
        ("shap", "succeeded"), ("shap", "succeeded"), ("fairness", "succeeded"),
        ("drift", "succeeded"),
    ], [j.error_message for j in jobs]
    fairness, drift = jobs[2].result, jobs[3].result
    assert set(fairness["attributes"]) == {"sex", "age_band"}
    assert drift["verdict"] == "drift" and drift["importance"] is not None
    assert "already run" in out.getvalue()

"""`manage.py load_demo` end to end: the headline promotion (credit-default-gbm to production)
can be completed. Version 1 stays blocked by its fairness failure on age_band; the remediated
version 2 meets every gate, and the output says who approves next with their demo logins;
approving as those people executes it. A second run changes nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from approvals import services
from approvals.models import PromotionRequest
from governance.models import User
from registry.models import ModelVersion

pytestmark = pytest.mark.django_db


def test_the_demo_headline_promotion_is_completable(settings):
    settings.JOB_HEARTBEAT_SECONDS = 3600
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    text = out.getvalue()

    blocked = PromotionRequest.objects.get(version__model__name="credit-default-gbm",
                                           version__version=1, target_stage="production")
    assert blocked.gate_report["passed"] is False
    fairness = next(i for i in blocked.gate_report["items"] if i["key"] == "fairness")
    assert "age_band" in fairness["detail"]

    ready = PromotionRequest.objects.get(version__model__name="credit-default-gbm",
                                         version__version=2, target_stage="production")
    assert ready.gate_report["passed"] is True, ready.gate_report["missing"]
    item = next(i for i in ready.gate_report["items"] if i["key"] == "fairness")
    assert item["attributes_tested"] == ["age_band", "sex"] and item["attributes_missing"] == []
    assert (f"credit-default-gbm@2 → production: request #{ready.pk} open, every gate met; "
            "approves next: validator: val or vic, then compliance: cora, then "
            "business_approver: bill (password gatehouse-demo)") in text
    assert f"request #{blocked.pk} open, blocked by: " in text

    for who, role in [("val", "validator"), ("cora", "compliance"), ("bill", "business_approver")]:
        ready = services.promotion_decide(actor=User.objects.get(username=who),
                                          request_id=ready.pk, decision="approve", role=role,
                                          comment="Demo approval.")
    assert ready.state == "executed", ready.state_reason
    assert ModelVersion.objects.get(model__name="credit-default-gbm", version=2).stage == "production"

    again = io.StringIO()
    call_command("load_demo", stdout=again)
    assert PromotionRequest.objects.count() == 3
    assert "already loaded" in again.getvalue()

"""Concurrent decisions and executions, with real separate connections (threads)."""

import threading

import pytest
from django.db import connection

from approvals import services
from approvals.models import Decision, PromotionRequest
from governance import services as gov
from governance.models import AuditEvent
from registry.models import ModelVersion


def _run_all(fns):
    errors, results = [], []
    barrier = threading.Barrier(len(fns))

    def wrap(fn):
        try:
            barrier.wait()
            results.append(fn())
        except BaseException as exc:  # noqa: BLE001 - collected and asserted
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrap, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_execute_exactly_once(personas, make_ready):
    version = make_ready(tier=1)
    req = services.promotion_request_open(actor=personas["engineer"], version=version,
                                          target_stage="production", justification="go")
    extra = gov.user_create(username="validator3", roles=["validator"], teams=["risk"])
    deciders = [(personas["validator"], "validator"), (personas["validator2"], "validator"), (extra, "validator"),
                (personas["compliance"], "compliance"), (personas["business"], "business_approver")]

    def decide(user, role):
        return lambda: services.promotion_decide(actor=user, request_id=req.pk, decision="approve", role=role)

    results, errors = _run_all([decide(u, r) for u, r in deciders])
    # two of the three validators lose the race for the one validator slot: refused, not 5xx
    assert all(type(e).__name__ in ("Forbidden", "InvalidTransition") for e in errors), errors
    req.refresh_from_db()
    assert req.state == "executed"
    approvals = Decision.objects.filter(request=req, decision="approve")
    assert sorted(approvals.values_list("role", flat=True)) == ["business_approver", "compliance", "validator"]
    assert AuditEvent.objects.filter(action="approvals.promotion.executed").count() == 1
    assert ModelVersion.objects.get(pk=version.pk).stage == "production"


@pytest.mark.django_db(transaction=True)
def test_concurrent_executions_for_two_versions_leave_one_in_production(personas, make_ready):
    v1, v2 = make_ready(tier=3, name="m"), make_ready(tier=3, name="m")
    reqs = [services.promotion_request_open(actor=personas["engineer"], version=v, target_stage="production",
                                            justification="go") for v in (v1, v2)]
    results, errors = _run_all([
        lambda: services.promotion_decide(actor=personas["validator"], request_id=reqs[0].pk,
                                          decision="approve", role="validator"),
        lambda: services.promotion_decide(actor=personas["validator2"], request_id=reqs[1].pk,
                                          decision="approve", role="validator"),
    ])
    assert errors == []
    assert ModelVersion.objects.filter(model=v1.model, stage="production").count() == 1
    assert set(PromotionRequest.objects.values_list("state", flat=True)) == {"executed"}

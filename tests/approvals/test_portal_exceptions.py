"""Policy exceptions in the portal: requested from the version page, decided on its page (not by
its requester), shown in the readiness checklist as waived, and the register's filters."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals import exceptions
from approvals.models import PolicyException


@pytest.fixture
def web_for(personas):
    def _client(name: str) -> Client:
        client = Client()
        client.force_login(personas[name])
        return client

    return _client


def _approved(personas, version, *, gate="shap", days=30):
    exc = exceptions.exception_request(
        actor=personas["engineer"], version=version, gate=gate, reason="Runner gap",
        compensating_controls="Manual review", expires_at=timezone.now() + dt.timedelta(days=days))
    for who in ("validator", "compliance"):
        exceptions.exception_decide(actor=personas[who], exception_id=exc.pk, decision="approve",
                                    role=who)
    exc.refresh_from_db()
    return exc


def test_request_from_the_version_page_then_decide(web_for, personas, make_ready):
    version = make_ready(tier=1, shap=False)
    base = f"/models/{version.model.name}/v{version.version}/"
    engineer = web_for("engineer")
    page = engineer.get(base).content.decode()
    assert 'data-testid="request-exception"' in page
    too_late = (timezone.localdate() + dt.timedelta(days=120)).isoformat()
    form = {"gate": "shap", "reason": "Runner gap", "compensating_controls": "Manual review"}
    response = engineer.post(base + "exceptions/new/", {**form, "expires_on": too_late})
    assert response.status_code == 400
    assert "exception_max_days" in response.content.decode()
    ok = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    response = engineer.post(base + "exceptions/new/", {**form, "expires_on": ok})
    exc = PolicyException.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/exceptions/{exc.pk}/"
    # The requester's page says why they cannot decide; validators get the form.
    html = engineer.get(f"/exceptions/{exc.pk}/").content.decode()
    assert "exception-decide-form" not in html
    html = web_for("validator").get(f"/exceptions/{exc.pk}/").content.decode()
    assert 'data-testid="exception-decide-form"' in html
    for who in ("validator", "compliance"):
        response = web_for(who).post(f"/exceptions/{exc.pk}/decide/",
                                     {"role": who, "decision": "approve", "comment": ""})
        assert response.status_code == 302
    exc.refresh_from_db()
    assert exc.status == "approved"
    page = engineer.get(base).content.decode()
    assert 'data-testid="gate-waived"' in page
    assert f"Waived by exception #{exc.pk} until {exc.expires_at:%Y-%m-%d}" in page


def test_the_requester_posting_a_decision_is_refused(web_for, personas, make_ready):
    from governance import services as gov
    from governance.choices import Role

    version = make_ready(tier=1, shap=False)
    lead = gov.user_create(username="lead", roles=[Role.MODEL_OWNER, Role.VALIDATOR], teams=["credit"])
    version.model.owner = lead
    version.model.save(update_fields=["owner"])
    exc = exceptions.exception_request(actor=lead, version=version, gate="shap", reason="r",
                                       compensating_controls="c",
                                       expires_at=timezone.now() + dt.timedelta(days=5))
    client = Client()
    client.force_login(lead)
    html = client.get(f"/exceptions/{exc.pk}/").content.decode()
    assert "nobody decides on a policy exception they requested" in html
    response = client.post(f"/exceptions/{exc.pk}/decide/", {"role": "validator", "decision": "approve"})
    assert response.status_code == 403
    assert "nobody decides on a policy exception they requested" in response.content.decode()


def test_register_filters_active_expiring_expired(web_for, personas, make_ready):
    v1 = make_ready(tier=1, shap=False)
    active = _approved(personas, v1, gate="shap", days=30)
    soon = _approved(personas, v1, gate="drift", days=3)
    lapsed = _approved(personas, v1, gate="fairness", days=1)
    PolicyException.objects.filter(pk=lapsed.pk).update(expires_at=timezone.now() - dt.timedelta(hours=1))
    auditor = web_for("auditor")

    def rows(state):
        html = auditor.get(f"/exceptions/?state={state}").content.decode()
        return [pk for pk in (active.pk, soon.pk, lapsed.pk) if f'href="/exceptions/{pk}/"' in html]

    assert rows("active") == [active.pk, soon.pk]
    assert rows("expiring") == [soon.pk]
    assert rows("expired") == [lapsed.pk]  # past expiry, though beat has not recorded it yet


def test_register_queries_do_not_grow_with_rows(web_for, personas, make_ready):
    client = web_for("auditor")
    version = make_ready(tier=1, shap=False)
    _approved(personas, version, gate="shap")

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/exceptions/?state=all").status_code == 200
        return len(ctx.captured_queries)

    count()
    small = count()
    for gate in ("drift", "fairness", "documentation", "outcome_analysis"):
        _approved(personas, version, gate=gate)
    for _ in range(2):
        v = make_ready(tier=1, shap=False, documentation=False, fairness=False)
        _approved(personas, v)
    assert count() == small


def test_admin_lists_exceptions_and_restrictions_read_only(web_for, personas, make_ready):
    from oversight import services as ov

    version = make_ready(tier=1, shap=False)
    exc = _approved(personas, version)
    ov.use_restriction_add(actor=personas["owner"], model=version.model, kind="geography",
                           text="UK only")
    for who in ("admin_user", "auditor"):
        client = web_for(who)
        page = client.get("/admin/approvals/policyexception/")
        assert page.status_code == 200 and f"/admin/approvals/policyexception/{exc.pk}/" in page.content.decode()
        assert client.get("/admin/oversight/userestriction/").status_code == 200
        assert client.get("/admin/approvals/policyexception/add/").status_code == 403

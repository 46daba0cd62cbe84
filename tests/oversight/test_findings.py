"""Validation findings: who opens them, the thread, transitions, and what blocks promotion."""

import pytest

from common.errors import Conflict, Forbidden, ValidationFailed
from governance.models import AuditEvent
from oversight import selectors, services
from oversight.models import Finding
from tests import factories

URL = "/api/v1/findings/"


@pytest.fixture
def model(personas):
    return factories.model(personas["engineer"], owner="owner")


@pytest.fixture
def version(personas, model):
    return factories.version(personas["engineer"], model)


def _open(personas, model, severity="high", **kw):
    return services.finding_open(actor=personas["validator"], model=model, title="Overfits",
                                 severity=severity, **kw)


def test_validator_opens_a_finding_its_owner_is_notified(client_for, personas, model, version, mailoutbox,
                                                         django_capture_on_commit_callbacks):
    personas["owner"].email = "owner@example.com"
    personas["owner"].save()
    client = client_for("validator")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {"model": "credit-default", "version": 1, "title": "Unstable AUC",
                                     "severity": "high", "due_date": "2099-01-31"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "open" and body["owner"] == "owner" and body["blocking"] is True
    assert body["version"] == 1
    assert AuditEvent.objects.filter(action="governance.finding.opened").count() == 1
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["owner@example.com"]
    assert "Unstable AUC" in mailoutbox[0].subject


def test_engineers_cannot_open_findings(client_for, model):
    response = client_for("engineer").post(URL, {"model": "credit-default", "title": "x",
                                                 "severity": "low"}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == "Only validators and compliance may open a finding."


def test_challenge_and_answer_are_kept_in_the_thread(client_for, personas, model):
    finding = _open(personas, model)
    client_for("validator").post(f"{URL}{finding.pk}/responses/", {"body": "Why is AUC unstable?"},
                                 format="json")
    response = client_for("engineer").post(f"{URL}{finding.pk}/responses/",
                                           {"body": "Seasonality; see the new backtest."}, format="json")
    assert response.status_code == 201
    thread = response.json()["responses"]
    assert [(r["author"], r["body"]) for r in thread] == [
        ("validator", "Why is AUC unstable?"), ("engineer", "Seasonality; see the new backtest.")]


def test_developers_remediate_only_validators_close(personas, model):
    finding = _open(personas, model)
    with pytest.raises(Forbidden, match="Only a validator"):
        services.finding_transition(actor=personas["engineer"], finding=finding, to_status="closed")
    services.finding_transition(actor=personas["engineer"], finding=finding, to_status="remediated")
    with pytest.raises(Forbidden, match="owning team"):
        services.finding_transition(actor=personas["other_engineer"], finding=finding,
                                    to_status="remediated")
    closed = services.finding_transition(actor=personas["validator"], finding=finding,
                                         to_status="closed", note="Backtest convincing.")
    assert closed.status == "closed" and closed.resolved_at is not None
    event = AuditEvent.objects.filter(action="governance.finding.transitioned").last()
    assert event.payload["before"] == {"status": "remediated"}
    assert event.payload["after"] == {"status": "closed"}


def test_accepting_a_risk_needs_a_justification(personas, model):
    finding = _open(personas, model)
    with pytest.raises(ValidationFailed, match="justification"):
        services.finding_transition(actor=personas["validator"], finding=finding, to_status="accepted")
    accepted = services.finding_transition(actor=personas["validator"], finding=finding,
                                           to_status="accepted",
                                           justification="Compensating control: manual review.")
    assert accepted.justification.startswith("Compensating")


def test_database_refuses_accepted_without_justification(personas, model):
    from django.db import IntegrityError, transaction

    finding = _open(personas, model)
    with pytest.raises(IntegrityError), transaction.atomic():
        Finding.objects.filter(pk=finding.pk).update(status="accepted", justification="")


def test_transitions_follow_the_table(personas, model):
    finding = _open(personas, model)
    services.finding_transition(actor=personas["validator"], finding=finding, to_status="closed")
    with pytest.raises(Conflict, match="is closed; it cannot become remediated"):
        services.finding_transition(actor=personas["engineer"], finding=finding,
                                    to_status="remediated")
    reopened = services.finding_transition(actor=personas["validator"], finding=finding,
                                           to_status="open")
    assert reopened.status == "open"


def test_unresolved_high_and_critical_findings_block_promotion(personas, model, version):
    other_version = factories.version(personas["engineer"], model)
    _open(personas, model, severity="medium")
    assert not selectors.open_blocking_findings(model).exists()
    on_v2 = _open(personas, model, severity="critical", version=other_version)
    assert list(selectors.open_blocking_findings(model, version)) == []
    assert list(selectors.open_blocking_findings(model, other_version)) == [on_v2]
    model_wide = _open(personas, model, severity="high")
    assert set(selectors.open_blocking_findings(model, version)) == {model_wide}
    services.finding_transition(actor=personas["engineer"], finding=model_wide, to_status="remediated")
    assert set(selectors.open_blocking_findings(model, version)) == {model_wide}  # until closed
    services.finding_transition(actor=personas["validator"], finding=model_wide, to_status="closed")
    assert list(selectors.open_blocking_findings(model, version)) == []


def test_list_shows_only_visible_models_and_filters(client_for, personas, model):
    _open(personas, model, severity="high")
    _open(personas, model, severity="low")
    assert client_for("other_engineer").get(URL).json()["count"] == 0
    client = client_for("engineer")
    assert client.get(URL + "?blocking=true").json()["count"] == 1
    assert client.get(URL + "?severity=low").json()["count"] == 1
    assert client.get(URL + "?model=credit-default").json()["count"] == 2


def test_findings_list_query_count_is_bounded(client_for, personas, model):
    from tests import contract

    _open(personas, model)
    contract.assert_list_queries_bounded(
        client_for("validator"), URL, lambda: [_open(personas, model) for _ in range(5)])

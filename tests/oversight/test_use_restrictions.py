"""Use restrictions: recorded, withdrawn, expired, and what the register says."""

import datetime as dt

import pytest
from django.utils import timezone

from common.errors import Conflict, Forbidden, ValidationFailed
from governance.models import AuditEvent
from oversight import selectors, services
from oversight.models import UseRestriction
from tests import factories


@pytest.fixture
def model(personas):
    return factories.model(personas["owner"], owner="owner", developers=["engineer"])


def add(personas, model, who="owner", kind="prohibited_use", text="Marketing eligibility",
        expires_on=None):
    return services.use_restriction_add(actor=personas[who], model=model, kind=kind, text=text,
                                        expires_on=expires_on)


def test_owning_team_and_second_line_record_restrictions_with_an_audit_event(personas, model):
    r = add(personas, model)
    add(personas, model, who="validator", kind="geography", text="EU only")
    add(personas, model, who="compliance", kind="population", text="Adults 18+")
    event = AuditEvent.objects.filter(action="oversight.use_restriction.recorded").order_by("seq").first()
    assert (event.actor_name, event.object_id, event.model_name) == ("owner", str(r.pk), model.name)
    assert event.payload["after"] == {"kind": "prohibited_use", "text": "Marketing eligibility",
                                      "expires_on": None}
    assert UseRestriction.objects.filter(model=model).count() == 3


def test_others_and_auditors_cannot_record(personas, model):
    with pytest.raises(Forbidden, match="Auditors"):
        add(personas, model, who="auditor")
    with pytest.raises(Forbidden, match="owning team"):
        add(personas, model, who="other_engineer")
    assert not UseRestriction.objects.exists()


def test_bad_input_names_the_field(personas, model):
    with pytest.raises(ValidationFailed) as caught:
        add(personas, model, kind="vibes", text=" ",
            expires_on=timezone.localdate() - dt.timedelta(days=1))
    assert set(caught.value.errors) == {"kind", "text", "expires_on"}
    assert "allowed_use" in caught.value.errors["kind"][0]


def test_expired_restrictions_are_shown_as_expired(personas, model):
    today = timezone.localdate()
    add(personas, model, kind="allowed_use", text="Retail credit decisions",
        expires_on=today + dt.timedelta(days=1))
    rows = selectors.use_restrictions_for(model, today=today)
    assert [r.expired for r in rows] == [False]
    rows = selectors.use_restrictions_for(model, today=today + dt.timedelta(days=2))
    assert [r.expired for r in rows] == [True]
    register = selectors.use_restrictions_register(model, today=today + dt.timedelta(days=2))
    assert register["met"] is False and len(register["expired"]) == 1
    assert selectors.use_restrictions_register(model, today=today)["met"] is True


def test_withdrawal_needs_a_reason_and_is_recorded(personas, model):
    r = add(personas, model)
    with pytest.raises(ValidationFailed):
        services.use_restriction_withdraw(actor=personas["owner"], restriction=r, reason="")
    services.use_restriction_withdraw(actor=personas["validator"], restriction=r, reason="Superseded")
    with pytest.raises(Conflict):
        services.use_restriction_withdraw(actor=personas["validator"], restriction=r, reason="again")
    assert selectors.use_restrictions_for(model) == []
    [row] = selectors.use_restrictions_for(model, include_withdrawn=True)
    assert row.withdrawn and row.withdrawn_reason == "Superseded"
    event = AuditEvent.objects.get(action="oversight.use_restriction.withdrawn")
    assert event.payload["reason"] == "Superseded"


def test_restrictions_are_in_the_model_card_and_the_pack(personas, model, client_for):
    from oversight import export

    version = factories.version(personas["engineer"], model)
    add(personas, model, kind="allowed_use", text="Retail credit decisions")
    lapsed = add(personas, model, kind="geography", text="UK only",
                 expires_on=timezone.localdate())
    UseRestriction.objects.filter(pk=lapsed.pk).update(
        expires_on=timezone.localdate() - dt.timedelta(days=1))
    card = client_for("validator").get(
        f"/api/v1/models/{model.name}/versions/{version.version}/documentation-pack/?format=json").json()
    assert [(r["kind"], r["text"], r["expired"]) for r in card["use_restrictions"]] == [
        ("allowed_use", "Retail credit decisions", False), ("geography", "UK only", True)]
    html = export.render_pack_html(version, [])
    assert 'data-testid="pack-use-restrictions"' in html
    assert "Retail credit decisions" in html and "expired" in html
    assert 'data-testid="pack-exceptions"' not in html  # none requested
    assert "No exception to policy was requested for this version." in html


def test_restrictions_for_many_models_in_one_query(personas, model, django_assert_num_queries):
    other = factories.model(personas["owner"], name="credit-other", owner="owner")
    add(personas, model, kind="allowed_use", text="Retail credit")
    withdrawn = add(personas, model, kind="geography", text="UK")
    services.use_restriction_withdraw(actor=personas["owner"], restriction=withdrawn, reason="r")
    with django_assert_num_queries(1):
        found = selectors.use_restrictions_for_models([model.pk, other.pk])
    assert [r.text for r in found[model.pk]] == ["Retail credit"] and found[other.pk] == []


@pytest.mark.parametrize("imposer", ["validator", "compliance", "admin_user"])
def test_first_line_cannot_withdraw_what_the_second_line_imposed(personas, model, imposer):
    r = add(personas, model, who=imposer, kind="population", text="Not for applicants under 21")
    for who in ("owner", "engineer"):
        with pytest.raises(Forbidden) as exc:
            services.use_restriction_withdraw(actor=personas[who], restriction=r, reason="Too strict")
        assert "imposed by the second line" in exc.value.detail
    r.refresh_from_db()
    assert r.withdrawn_at is None
    assert not AuditEvent.objects.filter(action="oversight.use_restriction.withdrawn").exists()
    services.use_restriction_withdraw(actor=personas["compliance"], restriction=r,
                                      reason="Superseded by the 18+ population rule")
    event = AuditEvent.objects.get(action="oversight.use_restriction.withdrawn")
    assert event.actor_name == "compliance"


def test_first_line_withdraws_its_own_restrictions(personas, model):
    r = add(personas, model, who="owner")
    services.use_restriction_withdraw(actor=personas["engineer"], restriction=r, reason="Wrong text")
    r.refresh_from_db()
    assert r.withdrawn_by == personas["engineer"]


def test_second_line_marks_in_one_query(personas, model, django_assert_num_queries):
    add(personas, model, who="owner", text="Owner's")
    add(personas, model, who="validator", text="Validator's")
    add(personas, model, who="admin_user", text="Admin's")
    rows = selectors.use_restrictions_for(model)
    with django_assert_num_queries(1):
        selectors.mark_imposed_by_second_line(rows)
    assert {r.text: r.imposed_by_second_line for r in rows} == {
        "Owner's": False, "Validator's": True, "Admin's": True}

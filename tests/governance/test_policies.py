"""Tier policies: seeded defaults, versioning (never edited in place), admins only."""

import pytest
from django.db import IntegrityError, transaction

from common.errors import Forbidden, ValidationFailed
from governance import selectors, services
from governance.models import AuditEvent, TierPolicy
from governance.policy import default_rules, rules_errors


def test_every_tier_has_a_seeded_active_policy_with_the_expected_approvers(db):
    roles = {t: selectors.policy_for_tier(t).rules["stages"]["production"]["required_roles"]
             for t in (1, 2, 3)}
    assert roles == {1: ["validator", "compliance", "business_approver"],
                     2: ["validator", "compliance"], 3: ["validator"]}
    for t in (1, 2, 3):
        policy = selectors.policy_for_tier(t)
        assert policy.rules["stages"]["staging"]["required_roles"] == ["validator"]
        assert rules_errors(policy.rules) == {}
    tier1 = selectors.policy_for_tier(1).rules
    assert tier1["fairness_thresholds"]["disparate_impact_ratio"] == {"min": 0.80}
    assert tier1["approval_validity_days"] == 365


def test_publishing_creates_a_new_version_and_keeps_the_old_one_unchanged(personas):
    old = selectors.policy_for_tier(2)
    rules = default_rules(2)
    rules["approval_validity_days"] = 180
    new = services.tier_policy_publish(actor=personas["admin_user"], tier=2, rules=rules,
                                       notes="Shorter validity after audit.")
    assert new.version == old.version + 1
    assert selectors.policy_for_tier(2).pk == new.pk
    old.refresh_from_db()
    assert old.is_active is False
    assert old.rules["approval_validity_days"] == 540
    assert selectors.policy_get(2, old.version).rules == old.rules
    event = AuditEvent.objects.get(action="governance.policy.published")
    assert event.payload["before"]["version"] == old.version
    assert event.payload["after"]["rules"]["approval_validity_days"] == 180


def test_only_admins_publish(personas):
    with pytest.raises(Forbidden, match="Only administrators"):
        services.tier_policy_publish(actor=personas["validator"], tier=1, rules=default_rules(1))


def test_invalid_rules_are_refused_with_the_offending_path(personas):
    rules = default_rules(1)
    rules["stages"]["production"]["required_roles"] = ["auditor"]
    rules["fairness_thresholds"]["accuracy"] = {"min": 0.9}
    with pytest.raises(ValidationFailed) as exc:
        services.tier_policy_publish(actor=personas["admin_user"], tier=1, rules=rules)
    joined = " ".join(exc.value.errors["rules"])
    assert "stages.production.required_roles" in joined and "fairness_thresholds.accuracy" in joined


def test_database_allows_one_active_version_per_tier(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        TierPolicy.objects.create(tier=1, version=99, is_active=True, rules=default_rules(1))


def test_policy_for_tier_without_an_active_policy_is_a_clear_error(db):
    TierPolicy.objects.filter(tier=3).update(is_active=False)
    with pytest.raises(selectors.NoActivePolicy, match="no active policy for risk tier 3"):
        selectors.policy_for_tier(3)


def test_api_lists_active_policies_and_history(client_for, personas):
    services.tier_policy_publish(actor=personas["admin_user"], tier=3, rules=default_rules(3))
    client = client_for("engineer")
    active = client.get("/api/v1/policies/").json()["results"]
    assert [(p["tier"], p["is_active"]) for p in active] == [(1, True), (2, True), (3, True)]
    history = client.get("/api/v1/policies/?tier=3&history=1").json()["results"]
    assert [p["version"] for p in history] == [2, 1]
    assert client.get("/api/v1/policies/3/versions/1/").json()["is_active"] is False


def test_api_publish_admin_only(client_for, personas):
    body = {"tier": 3, "rules": default_rules(3), "notes": "n"}
    assert client_for("validator").post("/api/v1/policies/", body, format="json").status_code == 403
    response = client_for("admin_user").post("/api/v1/policies/", body, format="json")
    assert response.status_code == 201 and response.json()["version"] == 2


def test_editing_in_the_admin_site_publishes_a_new_version(personas, client):
    import json

    admin = personas["admin_user"]
    client.force_login(admin)
    current = selectors.policy_for_tier(3)
    rules = dict(current.rules, approval_validity_days=100)
    response = client.post(f"/admin/governance/tierpolicy/{current.pk}/change/",
                           {"tier": 3, "rules": json.dumps(rules), "notes": "edited"})
    assert response.status_code == 302, response.content[:2000]
    current.refresh_from_db()
    assert current.rules["approval_validity_days"] == 730 and not current.is_active
    assert selectors.policy_for_tier(3).rules["approval_validity_days"] == 100


def test_auditor_sees_policies_in_the_admin_but_cannot_change_them(personas, client):
    client.force_login(personas["auditor"])
    policy = selectors.policy_for_tier(1)
    assert client.get("/admin/governance/tierpolicy/").status_code == 200
    response = client.post(f"/admin/governance/tierpolicy/{policy.pk}/change/",
                           {"tier": 1, "rules": "{}", "notes": "x"})
    assert response.status_code == 403
    assert TierPolicy.objects.filter(tier=1).count() == 1


def test_seeded_required_sections_exist_in_their_templates(db):
    from governance.models import DocumentTemplate

    templates = {t.slug: set(t.section_keys) for t in DocumentTemplate.objects.filter(is_active=True)}
    for tier in (1, 2, 3):
        for slug, keys in selectors.policy_for_tier(tier).rules["required_document_sections"].items():
            assert set(keys) <= templates[slug], (tier, slug, set(keys) - templates[slug])


def test_publishing_refuses_sections_the_template_does_not_have(personas):
    rules = default_rules(2)
    rules["required_document_sections"]["sr11-7"].append("horoscope")
    with pytest.raises(ValidationFailed, match="horoscope"):
        services.tier_policy_publish(actor=personas["admin_user"], tier=2, rules=rules)


def test_admin_policy_form_names_each_rule_problem_once(db):
    from governance.admin import TierPolicyForm

    form = TierPolicyForm(data={"tier": 2, "rules": '{"stages": 5}', "notes": ""})
    assert not form.is_valid()
    messages = form.errors["rules"]
    assert "stages: Give rules for at least one stage (staging, production)." in messages
    assert len(messages) == len(set(messages))
    assert not any("JSON object" in m for m in messages)


def test_exception_rules_are_validated_and_default_for_older_policies():
    from governance.policy import exception_rules

    rules = default_rules(1)
    assert exception_rules(rules) == (90, ["validator", "compliance"])
    assert exception_rules(default_rules(3))[0] == 365
    older = {k: v for k, v in rules.items() if not k.startswith("exception_")}
    assert rules_errors(older) == {}  # published before exceptions existed: still valid
    assert exception_rules(older) == (90, ["validator"])
    bad = {**rules, "exception_max_days": 0, "exception_approver_roles": ["auditor"]}
    errors = rules_errors(bad)
    assert "between 1 and 3650" in errors["exception_max_days"][0]
    assert "roles that decide" in errors["exception_approver_roles"][0]

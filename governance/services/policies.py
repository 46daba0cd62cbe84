"""Publishing tier policies: a new version every time, never an edit of an old one."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max

from common.errors import Forbidden, ValidationFailed
from governance import audit
from governance import permissions as perms
from governance.models import DocumentTemplate, TierPolicy
from governance.policy import normalised, rules_errors


def _check_sections_exist(rules: dict[str, Any]) -> None:
    """Every required document section must exist in the active template it names."""
    templates = {t.slug: set(t.section_keys) for t in DocumentTemplate.objects.filter(is_active=True)}
    problems = []
    for slug, keys in (rules.get("required_document_sections") or {}).items():
        if slug not in templates:
            problems.append(f"required_document_sections: no template {slug!r}")
            continue
        problems += [f"required_document_sections.{slug}: the template has no section {k!r}"
                     for k in keys if k not in templates[slug]]
    if problems:
        raise ValidationFailed(f"The policy rules are not valid: {problems[0]}",
                               errors={"rules": problems})


@transaction.atomic
def tier_policy_publish(*, actor, tier: int, rules: dict[str, Any], notes: str = "") -> TierPolicy:
    """Publish `rules` as the next version of tier `tier`'s policy and make it the active one.

    Admins only. The previous version stays, unchanged apart from no longer being active, so
    every decision taken under it still names the exact rules it was judged under. Not durable:
    the admin site calls this inside its own transaction.
    """
    refusal = perms.explain_cannot_manage_policies(actor)
    if refusal:
        raise Forbidden(refusal)
    if tier not in (1, 2, 3):
        raise ValidationFailed("tier must be 1, 2 or 3.", errors={"tier": ["Must be 1, 2 or 3."]})
    errors = rules_errors(rules)
    if errors:
        first = next(iter(errors))
        raise ValidationFailed(f"The policy rules are not valid: {first}: {errors[first][0]}",
                               errors={"rules": [f"{k}: {m}" for k, v in errors.items() for m in v]})
    _check_sections_exist(rules)
    # Lock this tier's rows: two admins publishing at once get consecutive versions.
    list(TierPolicy.objects.select_for_update().filter(tier=tier).values_list("pk", flat=True))
    current = TierPolicy.objects.filter(tier=tier, is_active=True).first()
    last = TierPolicy.objects.filter(tier=tier).aggregate(m=Max("version"))["m"] or 0
    TierPolicy.objects.filter(tier=tier, is_active=True).update(is_active=False)
    policy = TierPolicy.objects.create(
        tier=tier, version=last + 1, is_active=True, rules=normalised(rules), notes=notes,
        created_by=actor,
    )
    audit.record(
        action="governance.policy.published", actor=actor, target=policy,
        payload={
            "tier": tier, "notes": notes,
            "before": {"version": current.version, "rules": current.rules} if current else None,
            "after": {"version": policy.version, "rules": policy.rules},
        },
    )
    return policy

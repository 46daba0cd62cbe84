"""Small presentation helpers shared by every portal page (badges, navigation, JSON, dates)."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from governance import audit_display
from governance.action_labels import action_label as _action_label
from governance.choices import Role
from governance.choices import role_label as _role_label
from governance.fairness import threshold_text as _threshold_text
from governance.permissions import explain_cannot_view_challenge, explain_cannot_write, is_admin

register = template.Library()

_STAGE_LABELS = {
    "development": "Development",
    "staging": "Staging",
    "production": "Production",
    "archived": "Archived",
}


@register.simple_tag
def stage_badge(stage: str | None) -> str:
    if not stage:
        return ""
    return format_html(
        '<span class="badge stage-{}">{}</span>', stage, _STAGE_LABELS.get(stage, stage.title())
    )


@register.simple_tag
def tier_badge(tier: int | None) -> str:
    if not tier:
        return format_html('<span class="badge tier-none">{}</span>', "Not assessed")
    return format_html('<span class="badge tier-{}">Tier {}</span>', tier, tier)


@register.simple_tag
def status_badge(status: str | None, label: str | None = None) -> str:
    if not status:
        return ""
    text = label or str(status).replace("_", " ").capitalize()
    return format_html('<span class="badge status-{}">{}</span>', status, text)


@register.filter
def role_labels(user) -> list[str]:
    labels = dict(Role.choices)
    return [labels.get(r, r) for r in sorted(getattr(user, "role_names", ()))]


@register.filter
def role_label(role: str | None) -> str:
    """A role slug as people say it: business_approver -> "Business approver"."""
    return _role_label(role)


@register.filter
def role_list(roles) -> str:
    """Role slugs as labels, comma-separated."""
    return ", ".join(audit_display.role_labels(roles))


@register.filter
def action_label(action: str) -> str:
    """An audit action as people say it: approvals.promotion.requested -> "Promotion requested"."""
    return _action_label(action)


@register.filter
def threshold(bounds) -> str:
    """A threshold as people read it: {"max": 0.1} -> "at most 0.10"."""
    return _threshold_text(bounds)


@register.filter
def audit_changes(payload) -> list[dict]:
    """An audit payload's before/after, field by field (governance.audit_display)."""
    return audit_display.payload_changes(payload)


@register.filter
def audit_details(payload) -> list[tuple[str, str]]:
    """An audit payload's other facts (reason, comment …) as (label, text)."""
    return audit_display.payload_details(payload)


@register.filter
def can_write(user) -> bool:
    """Whether write controls are shown at all (auditors never see one)."""
    return explain_cannot_write(user) is None


@register.filter
def can_see_challenge(user) -> bool:
    return explain_cannot_view_challenge(user) is None


@register.filter
def is_portal_admin(user) -> bool:
    return is_admin(user)


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@register.filter
def get_item(mapping, key):
    if mapping is None:
        return None
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.simple_tag(takes_context=True)
def nav_link(context, url_name: str, label: str, exact: bool = False) -> str:
    """A navigation link marked aria-current when the page is under it."""
    try:
        url = reverse(url_name)
    except NoReverseMatch:
        return ""
    path = getattr(context.get("request"), "path", "")
    current = path == url if exact or url == "/" else path.startswith(url)
    return format_html(
        '<li><a href="{}"{}>{}</a></li>', url, ' aria-current="page"' if current else "", label
    )




@register.simple_tag(takes_context=True)
def seal_status(context, event) -> str:
    """"sealed in checkpoint N" / "awaiting seal" for an event of the `events` being rendered
    (the checkpoints of the whole list are read once, on the first row)."""
    from governance.auditlog.proofs import checkpoint_numbers

    cache = context.render_context.setdefault("audit_seal_numbers", {})
    if event.seq not in cache:
        events = list(context.get("events") or [event])
        cache.update(checkpoint_numbers([e.seq for e in events] + [event.seq]))
    number = cache.get(event.seq)
    if number is None:
        return format_html('<span class="muted small" data-testid="seal">{}</span>',
                           "awaiting seal")
    return format_html('<span class="small" data-testid="seal">sealed in checkpoint {}</span>',
                       number)

"""A person signs in to the portal through the company's provider in a real browser (headless
Chromium) and lands with the roles the provider's claims map to; a role taken away at the
provider is gone at the next sign-in, and the audit log shows the change."""

from __future__ import annotations

import pytest

from governance.models import AuditEvent, User

pytestmark = pytest.mark.django_db(transaction=True)


def _sign_in_with_sso(portal, username: str, password: str | None) -> None:
    """Password None: the provider still has its own session and asks nothing."""
    page = portal.page
    page.goto("/accounts/login/")
    page.click("text=Sign in with Bank SSO")
    if password is not None:
        page.wait_for_selector("#sso-username")  # the provider's own page
        page.fill("#sso-username", username)
        page.fill("#sso-password", password)
        page.click("#sso-submit")
    page.wait_for_selector(f"[data-testid=username]:has-text('{username}')")


def test_sign_in_through_the_provider_maps_roles_and_follows_their_removal(portal, sso):
    page = portal.page
    _sign_in_with_sso(portal, "alice", "alice-sso-pw")
    header = page.inner_text("header")
    assert "Validator (model risk officer)" in header and "Auditor" in header
    portal.shot("sso-signed-in")

    portal.sign_out()
    sso.set_claims("alice", roles=["gh-validator"])
    # Signing out of Gatehouse leaves the provider's session: the provider lets alice straight
    # back, with the claims it holds now.
    _sign_in_with_sso(portal, "alice", None)
    header = page.inner_text("header")
    assert "Validator (model risk officer)" in header and "Auditor" not in header
    assert sorted(User.objects.get(username="alice").role_names) == ["validator"]
    assert AuditEvent.objects.filter(
        action="governance.user.updated", payload__source="oidc"
    ).exists()


def test_refused_callback_shows_why_in_the_browser(portal, sso):
    page = portal.page
    page.goto("/accounts/oidc/callback/?code=stolen&state=forged")
    assert "does not belong to a sign-in started in this browser" in page.inner_text(
        "[data-testid=signin-error]"
    )
    assert page.is_visible("text=Sign in with Bank SSO")

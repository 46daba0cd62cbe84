"""The portal's pages satisfy the Content Security Policy, and the journeys would notice if not."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_pages_send_a_policy_that_refuses_inline_script(portal, personas):
    page = portal.page
    response = page.goto("/accounts/login/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy

    portal.sign_in(personas["engineer"].username)
    for path in ("/", "/models/", "/jobs/", "/findings/", "/audit/", "/lineage/"):
        page.goto(path)
    assert portal.csp_violations == []

    # What a stray inline script would do: refused by the browser, and reported to the fixture.
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ran = true'; document.body.appendChild(s); }"
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.ran === undefined")
    assert any("Content Security Policy" in v for v in portal.csp_violations)
    portal.csp_violations.clear()  # the refusal above was this test's own doing

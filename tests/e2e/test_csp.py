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


def test_admin_and_api_docs_pages_satisfy_the_policy(portal, personas):
    page = portal.page
    portal.sign_in(personas["admin_user"].username)
    engineer = personas["engineer"].pk
    for path in ("/admin/", "/admin/governance/user/", f"/admin/governance/user/{engineer}/change/",
                 "/admin/governance/auditevent/"):
        page.goto(path)
        page.wait_for_load_state("load")
    # The API docs (Swagger UI, served locally) render under the same policy.
    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .info >> text=Gatehouse API")
    page.wait_for_selector(".opblock-tag >> text=models", timeout=20_000)
    assert portal.csp_violations == []

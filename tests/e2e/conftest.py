"""Browser tests: headless Debian Chromium driven by Playwright against pytest-django's live
server (and a real Celery worker where a journey runs jobs). Never downloads a browser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction

# Playwright's sync API runs an event loop in this thread; the ORM calls made by the test
# between browser steps are ordinary synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# The real worker fixtures live with the integration tests; importing them registers them here.
from tests.integration.conftest import (  # noqa: E402,F401
    job_done,
    shared_storage,
    start_worker,
    wait_for,
    worker_dirs,
)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"No Chromium at {CHROMIUM}: run bin/ensure-chromium (make test does).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def portal(browser, live_server):
    """A fresh browser context on the live server with sign-in/out and screenshot helpers."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    # Every journey checks the Content Security Policy: Chromium reports each refused inline
    # script, handler or style as a console error ("Refused to ... Content Security Policy").
    csp_violations: list[str] = []
    context.on(
        "console",
        lambda msg: csp_violations.append(f"{msg.page.url if msg.page else '?'}: {msg.text}")
        if "Content Security Policy" in msg.text
        else None,
    )

    class Portal:
        url = live_server.url

        def __init__(self):
            self.page = page
            self.context = context
            self.csp_violations = csp_violations

        def sign_in(self, username: str, password: str | None = None) -> None:
            page.goto("/accounts/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", password or f"pw-{username}")
            page.click("button[type=submit]")
            page.wait_for_selector(f"[data-testid=username]:has-text('{username}')")

        def sign_out(self) -> None:
            page.click("button:has-text('Sign out')")
            page.wait_for_url("**/accounts/login/")

        def shot(self, name: str, *, narrow: bool = False) -> Path:
            path = SCREENSHOTS / f"{name}.png"
            if narrow:
                page.set_viewport_size({"width": 390, "height": 844})
            page.screenshot(path=str(path), full_page=True)
            if narrow:
                page.set_viewport_size({"width": 1280, "height": 900})
            return path

    yield Portal()
    context.close()
    if csp_violations:
        pytest.fail("The page broke the Content Security Policy:\n" + "\n".join(csp_violations))


def publish_policy(admin, *, tier: int, production_roles: list[str], evidence: list[str]):
    """A tier policy for the journey (the transactional tests flush the seeded ones)."""
    from governance import services as gov
    from governance.policy import default_rules

    rules = default_rules(tier)
    rules["required_document_sections"] = {}
    rules["stages"]["production"] = {"required_roles": production_roles, "evidence": evidence}
    rules["stages"]["staging"] = {"required_roles": ["validator"], "evidence": evidence}
    with transaction.atomic():
        return gov.tier_policy_publish(actor=admin, tier=tier, rules=rules, notes="e2e journey")

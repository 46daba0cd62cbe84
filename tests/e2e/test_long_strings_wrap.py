"""Long unbroken strings (sha256 hashes, URIs, long names, JSON) wrap inside the page: on a phone
width no page scrolls sideways (a wide table may scroll inside its own frame)."""

from __future__ import annotations

import pytest

from governance.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

LONG = "s3://model-artifacts-eu-west-1/credit/" + "segment-" * 30 + "model.skops"


def _overflow(page) -> int:
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_no_page_scrolls_sideways_on_a_phone(portal, personas):
    eng = personas["engineer"]
    name = "credit-default-" + "retail-" * 10 + "eu"
    model = factories.model(eng, name=name, owner="owner", developers=["engineer"],
                            description=LONG, intended_use=LONG)
    ds = factories.dataset(eng, name="loans-" + "history-" * 8 + "x", description=LONG)
    dv = factories.dataset_version(eng, ds)
    factories.version(eng, model, training_datasets=[dv.ref], description=LONG,
                      code_commit="f" * 40, hyperparameters={"path": LONG})
    event = AuditEvent.objects.filter(model_name=name).latest("seq")

    portal.sign_in(personas["auditor"].username)
    page = portal.page
    page.set_viewport_size({"width": 390, "height": 844})
    for path in (f"/models/{name}/", f"/models/{name}/v1/", "/audit/", f"/audit/{event.seq}/",
                 "/models/"):
        page.goto(path)
        page.wait_for_load_state("load")
        assert _overflow(page) <= 1, f"{path} scrolls sideways by {_overflow(page)}px"
    portal.shot("long-strings-wrap-narrow", narrow=True)

"""Registry pages: inventory, model, version, datasets, lineage explorer, production on date."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from registry import services
from registry.models import RegisteredModel
from tests import factories
from tests.portal.conftest import write_forms

pytestmark = pytest.mark.django_db


def test_pages_require_sign_in(client):
    response = client.get("/models/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_sign_in_shows_the_users_roles(client, personas):
    response = client.post(
        "/accounts/login/", {"username": "owner", "password": "pw-owner"}, follow=True
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Signed in as <strong" in html and ">owner<" in html
    assert "Model owner" in html and "ML engineer" in html


def test_wrong_password_is_explained_on_the_sign_in_page(client, personas):
    response = client.post("/accounts/login/", {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode()


def test_inventory_lists_only_models_the_engineer_may_see(web_for, registry):
    html = web_for("engineer").get("/models/").content.decode()
    assert "credit-default" in html and "credit-challenger" in html
    assert "fraud-score" not in html
    auditor_html = web_for("auditor").get("/models/").content.decode()
    assert "fraud-score" in auditor_html


def test_inventory_filters_by_team_tier_stage_and_search(web_for, registry):
    RegisteredModel.objects.filter(name="fraud-score").update(risk_tier=1)
    web = web_for("validator")

    def names(query: str) -> set[str]:
        html = web.get("/models/?" + query).content.decode()
        return {n for n in ("credit-default", "credit-challenger", "fraud-score") if f">{n}</a>" in html}

    assert names("team=fraud") == {"fraud-score"}
    assert names("risk_tier=1") == {"fraud-score"}
    assert names("risk_tier=unassessed") == {"credit-default", "credit-challenger"}
    assert names("search=challenger") == {"credit-challenger"}
    assert names("stage=development") == {"credit-default", "credit-challenger", "fraud-score"}
    assert names("stage=production") == set()


def test_inventory_filters_overdue_reviews(web_for, registry):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    RegisteredModel.objects.filter(name="credit-default").update(next_review_date=yesterday)
    html = web_for("validator").get("/models/?review_overdue=true").content.decode()
    assert ">credit-default</a>" in html and ">credit-challenger</a>" not in html
    assert "(overdue)" in html


def test_inventory_sorts_and_paginates(web_for, registry):
    html = web_for("validator").get("/models/?ordering=-name&page_size=2").content.decode()
    assert html.index(">fraud-score</a>") < html.index(">credit-default</a>")
    assert "credit-challenger" not in html
    assert "Page 1 of 2" in html


def test_inventory_row_shows_each_stage_once_and_the_version_count(web_for, registry, personas):
    eng = personas["engineer"]
    for _ in range(3):
        factories.version(eng, registry["base"])
    with transaction.atomic():
        services.set_stage(version=registry["v1"], stage="staging", actor=eng, reason="test")
    html = web_for("validator").get("/models/").content.decode()
    row = next(r for r in html.split("<tr>") if ">credit-default</a>" in r)
    assert row.count("stage-development") == 1 and row.count("stage-staging") == 1
    assert row.index("stage-staging") < row.index("stage-development")  # most advanced first
    assert '<td class="num">4</td>' in row
    challenger = next(r for r in html.split("<tr>") if ">credit-challenger</a>" in r)
    assert "stage-staging" not in challenger and '<td class="num">1</td>' in challenger


def test_inventory_query_count_does_not_grow_with_rows(web_for, registry, personas):
    web = web_for("validator")
    web.get("/models/")  # warm-up
    with CaptureQueriesContext(connection) as small:
        assert web.get("/models/").status_code == 200
    eng = personas["engineer"]
    for i in range(12):
        factories.version(eng, factories.model(eng, name=f"bulk-{i}"))
    with CaptureQueriesContext(connection) as large:
        html = web.get("/models/").content.decode()
    assert "bulk-11" in html
    assert len(large.captured_queries) == len(small.captured_queries)


def test_model_page_shows_overview_versions_and_audit_trail(web_for, registry):
    html = web_for("auditor").get("/models/credit-default/").content.decode()
    assert "Overview" in html and "owner" in html
    assert 'href="/models/credit-default/v1/"' in html
    assert "stage-development" in html
    assert "registry.version.registered" in html


def test_model_of_another_team_is_not_found(web_for, registry):
    response = web_for("other_engineer").get("/models/credit-default/")
    assert response.status_code == 404
    assert "No model named" in response.content.decode()
    assert web_for("other_engineer").get("/models/credit-default/v1/").status_code == 404


def test_version_page_draws_lineage_both_ways_with_links(web_for, registry):
    html = web_for("engineer").get("/models/credit-default/v1/").content.decode()
    assert "<svg" in html
    assert 'href="/datasets/loans/#v1"' in html  # upstream
    assert 'href="/models/credit-challenger/v1/"' in html  # downstream
    assert "auc" in html and "0.81" in html
    assert ">C<" in html and "0.5" in html


def test_version_page_marks_other_teams_models_without_link(web_for, registry):
    html = web_for("other_engineer").get("/models/fraud-score/v1/").content.decode()
    assert 'href="/datasets/loans/#v1"' in html
    assert 'href="/models/credit-default/' not in html


def test_dataset_page_lists_versions_and_their_direct_users(web_for, registry):
    html = web_for("auditor").get("/datasets/loans/").content.decode()
    assert 'id="v1"' in html
    assert 'href="/models/credit-default/v1/"' in html and 'href="/models/fraud-score/v1/"' in html
    assert "/lineage/?dataset=loans%401" in html


def test_lineage_explorer_traces_a_dataset_to_any_depth(web_for, registry, personas):
    eng = personas["engineer"]
    parent = registry["c1"]
    for i in range(7):  # deeper than the version page shows
        parent = factories.version(eng, factories.model(eng, name=f"deep-{i}"), parents=[parent.ref])
    html = web_for("auditor").get("/lineage/?node=dataset:loans@1&direction=downstream").content.decode()
    for name in ("credit-default@1", "credit-challenger@1", "fraud-score@1", "deep-6@1"):
        assert name in html
    up = web_for("auditor").get("/lineage/?node=model:deep-6@1&direction=upstream").content.decode()
    assert "loans@1" in up and "holdout@1" in up and "deep-0@1" in up


def test_lineage_explorer_explains_a_bad_node(web_for, registry):
    html = web_for("auditor").get("/lineage/?node=bogus").content.decode()
    assert "node must look like" in html


def test_lineage_explorer_query_count_is_constant_in_depth(web_for, registry, personas):
    web = web_for("validator")
    url = "/lineage/?node=dataset:loans@1&direction=downstream"
    web.get(url)
    with CaptureQueriesContext(connection) as small:
        web.get(url)
    eng = personas["engineer"]
    parent = registry["c1"]
    for i in range(5):
        parent = factories.version(eng, factories.model(eng, name=f"chain-{i}"), parents=[parent.ref])
    with CaptureQueriesContext(connection) as large:
        assert "chain-4@1" in web.get(url).content.decode()
    assert len(large.captured_queries) == len(small.captured_queries)


def _promote(version, actor):
    with transaction.atomic():
        services.set_stage(version=version, stage="production", actor=actor, reason="test")


def test_production_on_date_replays_the_audit_record(web_for, registry, personas):
    _promote(registry["v1"], personas["admin_user"])
    web = web_for("auditor")
    today = timezone.localdate()
    html = web.get(f"/production-on/?date={today.isoformat()}").content.decode()
    assert 'href="/models/credit-default/v1/"' in html
    before = (today - dt.timedelta(days=1)).isoformat()
    assert "Nothing was in production then." in web.get(f"/production-on/?date={before}").content.decode()


def test_production_on_a_bad_date_shows_the_error_next_to_the_field(web_for, registry):
    html = web_for("auditor").get("/production-on/?date=31-12-2020").content.decode()
    assert 'aria-invalid="true"' in html and "is not a date" in html


@pytest.mark.parametrize("url", [
    "/", "/models/", "/models/credit-default/", "/models/credit-default/v1/", "/datasets/",
    "/datasets/loans/", "/lineage/?node=dataset:loans@1", "/production-on/", "/audit/",
])
def test_auditor_sees_every_registry_page_and_no_write_control(web_for, registry, url):
    response = web_for("auditor").get(url)
    assert response.status_code == 200
    assert write_forms(response.content.decode()) == []

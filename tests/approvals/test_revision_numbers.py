"""A promotion names the documents it was judged on by their own revision numbers (the page and
the API), not by the revisions' database ids."""

from __future__ import annotations

from django.test import Client

from approvals import services
from oversight import selectors as ov_selectors
from oversight.models import DocumentRevision


def _open(personas, version):
    return services.promotion_request_open(actor=personas["engineer"], version=version,
                                           target_stage="production", justification="Better AUC.")


def test_promotion_page_and_api_show_revision_numbers(personas, make_ready, client_for):
    version = make_ready(tier=1)
    req = _open(personas, version)
    documents = ov_selectors.documents_for_version(version)
    ids = req.evidence["document_revisions"]
    numbers = {r.pk: r.number for r in DocumentRevision.objects.filter(pk__in=ids)}
    assert ids and any(pk != number for pk, number in numbers.items())

    web = Client()
    web.force_login(personas["auditor"])
    html = web.get(f"/promotions/{req.pk}/").content.decode()
    for d in documents:
        assert f"{d.template.title} revision {d.revision}" in html
    assert ", ".join(str(i) for i in ids) not in html

    body = client_for("auditor").get(f"/api/v1/promotions/{req.pk}/").json()
    assert {(r["template"], r["number"]) for r in body["document_revisions"]} == {
        (d.template_slug, d.revision) for d in documents}
    assert body["evidence"]["document_revisions"] == ids  # the binding itself is unchanged


def test_promotion_list_reads_the_revisions_once(personas, make_ready, client_for,
                                                django_assert_max_num_queries):
    _open(personas, make_ready(tier=1))
    client = client_for("auditor")
    with django_assert_max_num_queries(20) as one:
        client.get("/api/v1/promotions/")
    _open(personas, make_ready(tier=1, name="credit-challenger"))
    with django_assert_max_num_queries(len(one.captured_queries)):
        body = client.get("/api/v1/promotions/").json()
    assert all(r["document_revisions"] for r in body["results"])

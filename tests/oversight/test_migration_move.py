"""The move of the records from governance to oversight keeps every row: a database written under
the old state (governance 0008, before the split) migrates forward with its rows readable
through the oversight models, and the content types (with their permissions) relabelled."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from oversight.models import (
    Document,
    DocumentRevision,
    Finding,
    FindingResponse,
    ReviewOverdue,
    RiskAssessment,
)
from tests import factories

BEFORE = [("governance", "0008_external_identity")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_rows_written_before_the_split_are_read_by_oversight_after_it(personas):
    engineer, validator = personas["engineer"], personas["validator"]
    mdl = factories.model(engineer)
    mv = factories.version(engineer, mdl)
    # Content types as a database migrated on main has them (post_migrate made governance ones).
    ct = ContentType.objects.filter(app_label="oversight", model="finding").first()
    perm_id = Permission.objects.get(content_type=ct, codename="view_finding").pk

    old = _migrate(BEFORE)
    ContentType.objects.filter(app_label="oversight").update(app_label="governance")
    OldDocument = old.get_model("governance", "Document")
    OldRevision = old.get_model("governance", "DocumentRevision")
    OldFinding = old.get_model("governance", "Finding")
    OldResponse = old.get_model("governance", "FindingResponse")
    OldRisk = old.get_model("governance", "RiskAssessment")
    OldOverdue = old.get_model("governance", "ReviewOverdue")
    template = old.get_model("governance", "DocumentTemplate").objects.get(
        slug="sr11-7", is_active=True)
    now = timezone.now()
    doc = OldDocument.objects.create(version_id=mv.pk, template=template, template_slug="sr11-7",
                                     revision=1, created_by_id=engineer.pk)
    OldRevision.objects.create(document=doc, number=1, section_key="purpose", text="Why.",
                               author_id=engineer.pk, created_at=now)
    finding = OldFinding.objects.create(model_id=mdl.pk, version_id=mv.pk, document=doc,
                                        title="Thin-file applicants", severity="high",
                                        opened_by_id=validator.pk)
    OldResponse.objects.create(finding=finding, author_id=engineer.pk, body="On it.")
    OldRisk.objects.create(model_id=mdl.pk, questionnaire_version="1", answers={}, score=7,
                           computed_tier=1, eu_ai_act_class="high", assessed_by_id=validator.pk,
                           expires_at=now + dt.timedelta(days=365))
    OldOverdue.objects.create(model_id=mdl.pk, review_date=dt.date(2026, 1, 1))

    _migrate(_latest())

    moved = Document.objects.get(pk=doc.pk)
    assert (moved.version_id, moved.template.slug, moved.revision) == (mv.pk, "sr11-7", 1)
    assert list(DocumentRevision.objects.filter(document=moved).values_list("text", flat=True)) == [
        "Why."]
    f = Finding.objects.get(pk=finding.pk)
    assert (f.model_id, f.document_id, f.severity, f.status) == (mdl.pk, doc.pk, "high", "open")
    assert FindingResponse.objects.get(finding=f).body == "On it."
    assert RiskAssessment.objects.get(model=mdl).effective_tier == 1
    assert ReviewOverdue.objects.get(model=mdl).review_date == dt.date(2026, 1, 1)
    # The same content type row, relabelled: the permission granted on it is still attached.
    assert not ContentType.objects.filter(app_label="governance", model="finding").exists()
    assert Permission.objects.get(pk=perm_id).content_type.app_label == "oversight"
    ContentType.objects.clear_cache()

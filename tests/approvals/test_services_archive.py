"""Archiving goes through approvals, the only code that moves a version's stage."""

from __future__ import annotations

import pytest
from django.db import transaction

from approvals import services
from common.errors import Forbidden
from governance.models import AuditEvent
from registry import services as registry_services
from registry.choices import Stage
from tests import factories

REASON = "Superseded."


@pytest.fixture
def version(personas):
    return factories.version(personas["engineer"], factories.model(personas["engineer"]))


def test_the_owning_team_archives_a_version_in_development(personas, version):
    archived = services.version_archive(actor=personas["engineer"], version=version, reason=REASON)

    assert archived.stage == Stage.ARCHIVED and archived.stage_changed_at is not None
    event = AuditEvent.objects.get(action="registry.version.stage_changed")
    assert event.actor == personas["engineer"]
    assert event.payload["before"] == {"stage": "development"} and event.payload["reason"] == REASON
    # Archiving again changes nothing and records nothing.
    services.version_archive(actor=personas["engineer"], version=archived, reason=REASON)
    assert AuditEvent.objects.filter(action="registry.version.stage_changed").count() == 1


@pytest.mark.parametrize("who", ["other_engineer", "auditor"])
def test_outsiders_and_auditors_cannot_archive(personas, version, who):
    with pytest.raises(Forbidden):
        services.version_archive(actor=personas[who], version=version, reason=REASON)
    version.refresh_from_db()
    assert version.stage == Stage.DEVELOPMENT


def test_a_production_version_is_archived_only_as_an_emergency_rollback(personas, version):
    with transaction.atomic():
        registry_services.set_stage(version=version, stage=Stage.PRODUCTION, actor=None, reason="test")
    # A teammate who may archive in development is not the owner nor a validator.
    with pytest.raises(Forbidden):
        services.version_archive(actor=personas["engineer2"], version=version, reason=REASON)
    version.refresh_from_db()
    assert version.stage == Stage.PRODUCTION

    services.version_archive(actor=personas["validator"], version=version, reason=REASON)
    version.refresh_from_db()
    assert version.stage == Stage.ARCHIVED
    event = AuditEvent.objects.filter(action="registry.version.stage_changed").latest("seq")
    assert event.payload["rollback"] is True and event.payload["before"] == {"stage": "production"}

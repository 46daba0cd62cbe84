"""Renaming and deleting a model: only while nothing in Gatehouse keeps a record naming it."""

from __future__ import annotations

import pytest

from common.errors import Conflict, Forbidden
from governance.models import AuditEvent
from mlflow_api.models import ModelTag
from oversight.services import risk as risk_services
from registry import services
from registry.models import RegisteredModel
from tests import factories
from tests.governance.helpers import LOW_ANSWERS


@pytest.fixture
def model(personas):
    return factories.model(personas["engineer"])


def test_a_fresh_model_is_renamed_with_an_audit_event(personas, model):
    renamed = services.model_rename(actor=personas["engineer"], model=model, new_name="credit-pd")

    assert RegisteredModel.objects.get(pk=model.pk).name == "credit-pd" == renamed.name
    event = AuditEvent.objects.get(action="registry.model.renamed")
    assert event.actor == personas["engineer"] and event.model_name == "credit-pd"
    assert event.payload == {"before": {"name": "credit-default"}, "after": {"name": "credit-pd"}}


def test_rename_refuses_a_taken_name_and_other_teams(personas, model):
    factories.model(personas["engineer"], name="taken")
    with pytest.raises(Conflict, match="already exists"):
        services.model_rename(actor=personas["engineer"], model=model, new_name="taken")
    for who in ("other_engineer", "auditor"):
        with pytest.raises(Forbidden):
            services.model_rename(actor=personas[who], model=model, new_name="mine-now")
    assert RegisteredModel.objects.get(pk=model.pk).name == "credit-default"
    assert not AuditEvent.objects.filter(action="registry.model.renamed").exists()


def test_a_model_with_governance_records_keeps_its_name_and_is_not_deleted(personas, model):
    risk_services.risk_assessment_create(actor=personas["owner"], model=model, answers=LOW_ANSWERS)

    with pytest.raises(Forbidden, match="risk assessments") as info:
        services.model_rename(actor=personas["engineer"], model=model, new_name="credit-pd")
    assert info.value.code == "name_frozen"
    with pytest.raises(Forbidden, match="risk assessments"):
        services.model_delete(actor=personas["engineer"], model=model)
    assert RegisteredModel.objects.get(pk=model.pk).name == "credit-default"


def test_only_an_empty_model_is_deleted_and_its_mlflow_tags_go_with_it(personas, model):
    ModelTag.objects.create(model=model, key="k", value="v")
    services.model_delete(actor=personas["engineer"], model=model)
    assert not RegisteredModel.objects.filter(pk=model.pk).exists() and not ModelTag.objects.exists()
    event = AuditEvent.objects.get(action="registry.model.deleted")
    assert event.model_name == "credit-default"
    assert event.payload == {"before": {"name": "credit-default", "team": "credit"}}

    kept = factories.model(personas["engineer"], name="kept")
    factories.version(personas["engineer"], kept)
    with pytest.raises(Forbidden, match="1 registered version"):
        services.model_delete(actor=personas["engineer"], model=kept)
    with pytest.raises(Forbidden):
        services.model_delete(actor=personas["auditor"], model=factories.model(personas["engineer"], name="x"))
    assert RegisteredModel.objects.filter(name__in=["kept", "x"]).count() == 2

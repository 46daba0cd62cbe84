"""The registry fields other layers decide (risk tier and EU AI Act class, next review date) are
written by registry services, inside the deciding layer's transaction, touching only those
columns."""

import datetime as dt

import pytest
from django.db import transaction

from common.errors import ValidationFailed
from registry import services
from registry.models import RegisteredModel
from tests import factories


@pytest.fixture
def model(personas):
    return factories.model(personas["engineer"])


@pytest.mark.django_db(transaction=True)
def test_classification_outside_the_callers_transaction_is_refused(model):
    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        services.model_risk_classify(model=model, risk_tier=1, eu_ai_act_class="high")
    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        services.model_review_schedule(model=model, next_review_date=dt.date(2027, 1, 1))


def test_an_unknown_class_or_tier_is_refused_and_nothing_written(model):
    with transaction.atomic():
        with pytest.raises(ValidationFailed, match="Unknown EU AI Act class 'huge'"):
            services.model_risk_classify(model=model, risk_tier=1, eu_ai_act_class="huge")
        with pytest.raises(ValidationFailed, match="tier must be 1, 2 or 3"):
            services.model_risk_classify(model=model, risk_tier=4, eu_ai_act_class="high")
    fresh = RegisteredModel.objects.get(pk=model.pk)
    assert (fresh.risk_tier, fresh.eu_ai_act_class) == (None, "")


def test_only_the_decided_columns_are_written(model):
    stale = RegisteredModel.objects.get(pk=model.pk)
    RegisteredModel.objects.filter(pk=model.pk).update(title="Renamed meanwhile")
    with transaction.atomic():
        before = services.model_risk_classify(model=stale, risk_tier=2, eu_ai_act_class="limited")
        previous = services.model_review_schedule(model=stale, next_review_date=dt.date(2027, 3, 1))
    assert before == {"risk_tier": None, "eu_ai_act_class": ""} and previous is None
    fresh = RegisteredModel.objects.get(pk=model.pk)
    assert (fresh.risk_tier, fresh.eu_ai_act_class, fresh.next_review_date) == (
        2, "limited", dt.date(2027, 3, 1))
    assert fresh.title == "Renamed meanwhile"

"""The columns a job names are checked against the dataset's registered columns when the job is
requested: a 400 naming the column and listing the dataset's columns, and no job."""

from __future__ import annotations

import pytest

from explainability import services
from explainability.models import Job
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(personas, monkeypatch):
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)
    eng = personas["engineer"]
    ds = factories.dataset(eng, name="loans", contains_personal_data=True,
                           sensitive_attributes=["sex"])
    dv = factories.dataset_version(eng, ds, csv=b"income,sex,defaulted\n1,F,0\n2,M,1\n")
    model = factories.model(eng, owner="owner", developers=["engineer"])
    version = factories.version(eng, model, training_datasets=[dv.ref])
    return {"dv": dv, "version": version,
            "url": f"/api/v1/models/{model.name}/versions/{version.version}/jobs/"}


def _fairness(world, **params):
    return {"kind": "fairness", "dataset": world["dv"].ref, "params": params}


def test_an_unknown_label_column_is_a_400_listing_the_columns(client_for, world):
    response = client_for("engineer").post(world["url"], _fairness(world, label_column="label"),
                                           format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "unknown_column"
    assert body["errors"]["params.label_column"] == [
        "Dataset loans@1 has no column 'label' (label column); its columns are: income, sex, "
        "defaulted."]
    assert not Job.objects.exists()


def test_unknown_sensitive_attributes_are_named(client_for, world):
    response = client_for("engineer").post(
        world["url"], _fairness(world, label_column="defaulted",
                                sensitive_attributes=["sex", "age_band"]), format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["params.sensitive_attributes"] == [
        "Dataset loans@1 has no column 'age_band' (sensitive attribute); its columns are: "
        "income, sex, defaulted."]


def test_the_datasets_declared_attributes_are_checked_too(personas, world):
    world["dv"].dataset.sensitive_attributes = ["sex", "region"]
    world["dv"].dataset.save()
    from common.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        services.job_start(actor=personas["engineer"], version=world["version"], kind="fairness",
                           dataset=world["dv"], params={"label_column": "defaulted"})
    message = refused.value.errors["params.sensitive_attributes"][0]
    assert "'region' (its declared sensitive attributes)" in message


def test_known_columns_are_accepted_and_unknown_schemas_left_to_the_worker(personas, world):
    job = services.job_start(actor=personas["engineer"], version=world["version"],
                             kind="fairness", dataset=world["dv"],
                             params={"label_column": "defaulted", "sensitive_attributes": ["sex"]})
    assert job.status == "queued"
    world["dv"].schema = []
    world["dv"].save()
    job = services.job_start(actor=personas["engineer"], version=world["version"],
                             kind="fairness", dataset=world["dv"],
                             params={"label_column": "anything"})
    assert job.status == "queued"


def test_drift_features_are_checked_in_both_datasets(personas, world):
    from common.errors import ValidationFailed

    current = factories.dataset_version(personas["engineer"], world["dv"].dataset,
                                        csv=b"income,sex\n1,F\n2,M\n")
    with pytest.raises(ValidationFailed) as refused:
        services.job_start(actor=personas["engineer"], version=world["version"], kind="drift",
                           dataset=current, params={"features": ["income", "defaulted"]})
    assert refused.value.errors["params.features"] == [
        "Dataset loans@2 has no column 'defaulted' (feature); its columns are: income, sex."]

"""The real MLflow client (mlflow-skinny) against a live Gatehouse: an engineer keeps their
MLflow code, the registry is Gatehouse's, and the gates still hold."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException

from approvals import services as approvals_services
from approvals.models import PromotionRequest
from governance.models import AuditEvent
from oversight.services import risk as risk_services
from registry.models import ModelVersion, RegisteredModel
from tests import factories
from tests.approvals.conftest import complete_documentation, succeeded_job
from tests.governance.helpers import LOW_ANSWERS
from tests.mlflow_api.conftest import SHA_A, SHA_B

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # Engineers still call MLflow's stage APIs (deprecated upstream since 2.9); Gatehouse serves them.
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


@pytest.fixture(autouse=True)
def _seeded_governance(transactional_db):
    """Tier policies and documentation templates, as the migrations seed them: an earlier
    transactional test may have flushed them (the seed only adds what is missing)."""
    from importlib import import_module

    from django.apps import apps

    import_module("governance.migrations.0004_seed_policies_and_templates").seed(apps, None)


def _register(client, name="credit-default", versions=2):
    client.create_registered_model(name, tags={"domain": "credit"}, description="Probability of default")
    for n in range(1, versions + 1):
        client.create_model_version(
            name, f"s3://models/{name}/{n}/model.onnx", run_id=f"run-{n}",
            run_link=f"https://tracking.example/#/runs/run-{n}",
            tags={"gatehouse.artifact_sha256": SHA_A if n == 1 else SHA_B, "trainer": "nightly"},
            description=f"version {n}",
        )


def _error(call) -> MlflowException:
    with pytest.raises(MlflowException) as info:
        call()
    return info.value


def test_models_and_versions_created_with_mlflow_are_gatehouse_registry_rows(mlflow_as, personas):
    client = mlflow_as("owner")
    _register(client)

    model = RegisteredModel.objects.get(name="credit-default")
    assert model.team.name == "credit" and model.owner == personas["owner"]
    assert model.description == "Probability of default"
    v1 = ModelVersion.objects.get(model=model, version=1)
    assert v1.artifact_uri == "s3://models/credit-default/1/model.onnx"
    assert v1.artifact_sha256 == SHA_A and v1.artifact_format == "onnx"
    assert v1.provenance["run_id"] == "run-1"
    assert v1.provenance["run_link"] == "https://tracking.example/#/runs/run-1"
    actions = list(AuditEvent.objects.filter(model_name="credit-default").values_list("action", flat=True))
    assert actions == [
        "registry.model.registered", "mlflow_api.model.tagged",
        # One event per version: the registration names its tags (provenance.mlflow_tags).
        "registry.version.registered", "registry.version.registered",
    ]

    got = client.get_registered_model("credit-default")
    assert got.tags == {"domain": "credit"} and got.description == "Probability of default"
    assert [v.version for v in got.latest_versions] == ["2"]  # newest per stage: both are None
    mv = client.get_model_version("credit-default", "1")
    assert (mv.source, mv.run_id, mv.current_stage, mv.status) == (
        "s3://models/credit-default/1/model.onnx", "run-1", "None", "READY")
    assert mv.tags == {"gatehouse.artifact_sha256": SHA_A, "trainer": "nightly"}
    assert mv.run_link == "https://tracking.example/#/runs/run-1"
    assert client.get_model_version_download_uri("credit-default", "2") == "s3://models/credit-default/2/model.onnx"

    client.update_model_version("credit-default", "2", description="calibrated")
    assert client.get_model_version("credit-default", "2").description == "calibrated"
    client.update_registered_model("credit-default", description="PD, retail")
    assert client.get_registered_model("credit-default").description == "PD, retail"

    duplicate = _error(lambda: client.create_registered_model("credit-default"))
    assert duplicate.error_code == "RESOURCE_ALREADY_EXISTS"
    missing = _error(lambda: client.get_model_version("credit-default", "9"))
    assert missing.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_search_with_filters_and_pages(mlflow_as):
    client = mlflow_as("owner")
    for name, domain in [("credit-default", "credit"), ("credit-limit", "credit"), ("Fraud-score", "fraud")]:
        client.create_registered_model(name, tags={"domain": domain})
        client.create_model_version(name, f"s3://m/{name}.onnx", run_id=f"run-{name}",
                                    tags={"gatehouse.artifact_sha256": SHA_A})

    def names(**kw):
        return [m.name for m in client.search_registered_models(**kw)]

    assert names(filter_string="name = 'credit-limit'") == ["credit-limit"]
    assert names(filter_string="name LIKE 'credit-%'") == ["credit-default", "credit-limit"]
    assert names(filter_string="name LIKE 'fraud%'") == []  # LIKE is case-sensitive
    assert names(filter_string="name ILIKE 'fraud%'") == ["Fraud-score"]
    assert names(filter_string="tags.domain = 'credit'") == ["credit-default", "credit-limit"]
    assert names(filter_string="tags.domain = 'credit' AND name LIKE '%limit'") == ["credit-limit"]
    assert names(order_by=["name DESC"]) == ["credit-limit", "credit-default", "Fraud-score"]

    first = client.search_registered_models(max_results=2)
    assert [m.name for m in first] == ["Fraud-score", "credit-default"] and first.token
    second = client.search_registered_models(max_results=2, page_token=first.token)
    assert [m.name for m in second] == ["credit-limit"] and not second.token

    versions = client.search_model_versions("run_id = 'run-credit-limit'")
    assert [(v.name, v.version) for v in versions] == [("credit-limit", "1")]
    assert len(client.search_model_versions("name LIKE 'credit-%'")) == 2
    page = client.search_model_versions(max_results=1)
    assert len(page) == 1 and page.token

    bad = _error(lambda: client.search_registered_models(filter_string="name ~ 'x'"))
    assert bad.error_code == "INVALID_PARAMETER_VALUE"


def test_tags_and_unprotected_aliases_behave_as_in_mlflow_with_audit_events(mlflow_as):
    client = mlflow_as("owner")
    _register(client)

    client.set_registered_model_tag("credit-default", "owner-team", "retail")
    client.delete_registered_model_tag("credit-default", "domain")
    assert client.get_registered_model("credit-default").tags == {"owner-team": "retail"}
    client.set_model_version_tag("credit-default", "2", "validated", "no")
    client.delete_model_version_tag("credit-default", "2", "trainer")
    assert client.get_model_version("credit-default", "2").tags == {
        "gatehouse.artifact_sha256": SHA_B, "validated": "no"}

    client.set_registered_model_alias("credit-default", "challenger", "2")
    assert client.get_model_version_by_alias("credit-default", "challenger").version == "2"
    assert client.get_registered_model("credit-default").aliases == {"challenger": "2"}
    assert client.get_model_version("credit-default", "2").aliases == ["challenger"]
    client.delete_registered_model_alias("credit-default", "challenger")
    gone = _error(lambda: client.get_model_version_by_alias("credit-default", "challenger"))
    assert gone.error_code == "RESOURCE_DOES_NOT_EXIST"

    actions = list(AuditEvent.objects.filter(action__startswith="mlflow_api.").values_list("action", flat=True))
    assert actions[-6:] == [
        "mlflow_api.model.tagged", "mlflow_api.model.untagged",
        "mlflow_api.version.tagged", "mlflow_api.version.untagged",
        "mlflow_api.alias.set", "mlflow_api.alias.deleted",
    ]

    client.transition_model_version_stage("credit-default", "1", "Archived")
    assert client.get_model_version("credit-default", "1").current_stage == "Archived"
    event = AuditEvent.objects.filter(action="registry.version.stage_changed").get()
    assert event.payload["after"] == {"stage": "archived"} and event.actor_name == "owner"


def test_production_waits_for_approvals_in_gatehouse_then_the_client_sees_it(mlflow_as, personas):
    owner, engineer = personas["owner"], personas["engineer"]
    client = mlflow_as("owner")
    _register(client, versions=1)

    # No risk assessment yet: no promotion can be requested, and the client is told why.
    unassessed = _error(lambda: client.transition_model_version_stage("credit-default", "1", "Production"))
    assert unassessed.error_code == "PERMISSION_DENIED"
    assert "no risk assessment" in unassessed.message and "/models/credit-default/" in unassessed.message
    assert not PromotionRequest.objects.exists()

    model = RegisteredModel.objects.get(name="credit-default")
    risk_services.risk_assessment_create(actor=owner, model=model, answers=LOW_ANSWERS)

    refused = _error(lambda: client.transition_model_version_stage("credit-default", "1", "Production"))
    request = PromotionRequest.objects.get()
    assert (request.version.ref, request.target_stage, request.state, request.requested_by) == (
        "credit-default@1", "production", "open", owner)
    assert refused.error_code == "PERMISSION_DENIED"
    assert "Missing approvals: validator" in refused.message
    assert f"/promotions/{request.pk}/" in refused.message
    assert client.get_model_version("credit-default", "1").current_stage == "None"

    # The protected alias is the same request, not a second one.
    champion = _error(lambda: client.set_registered_model_alias("credit-default", "champion", "1"))
    assert champion.error_code == "PERMISSION_DENIED" and f"/promotions/{request.pk}/" in champion.message
    assert PromotionRequest.objects.count() == 1
    assert _error(lambda: client.get_model_version_by_alias("credit-default", "champion")).error_code == (
        "RESOURCE_DOES_NOT_EXIST")

    # Evidence and the validator's approval happen in Gatehouse.
    version = ModelVersion.objects.get(model=model, version=1)
    data = factories.dataset_version(engineer, factories.dataset(engineer, name="loans"))
    complete_documentation(version, owner, engineer)
    succeeded_job(version, data, "shap")
    approvals_services.promotion_decide(
        actor=personas["validator"], request_id=request.pk, decision="approve", role="validator")
    request.refresh_from_db()
    assert request.state == "executed"

    mv = client.get_model_version("credit-default", "1")
    assert mv.current_stage == "Production"
    assert sorted(mv.aliases) == ["champion", "production"]
    assert client.get_model_version_by_alias("credit-default", "champion").version == "1"
    latest = client.get_latest_versions("credit-default", stages=["Production"])
    assert [(v.version, v.current_stage) for v in latest] == [("1", "Production")]
    # Asking again for what is already so is not an error.
    client.set_registered_model_alias("credit-default", "production", "1")

    # Archiving a production version is Gatehouse's emergency rollback: the owner may, another
    # engineer of the team may not.
    engineer_client = mlflow_as("engineer")
    denied = _error(lambda: engineer_client.transition_model_version_stage("credit-default", "1", "Archived"))
    assert denied.error_code == "PERMISSION_DENIED" and "roll back" in denied.message
    client = mlflow_as("owner")
    assert client.transition_model_version_stage("credit-default", "1", "Archived").current_stage == "Archived"
    assert AuditEvent.objects.filter(action="registry.version.stage_changed", actor_name="owner",
                                     payload__rollback=True).count() == 1
    assert _error(lambda: client.get_model_version_by_alias("credit-default", "champion")).error_code == (
        "RESOURCE_DOES_NOT_EXIST")


def test_basic_auth_maps_to_gatehouse_users_and_their_visibility(mlflow_as):
    mlflow_as("owner").create_registered_model("credit-default")
    assert [m.name for m in mlflow_as("engineer", basic=True).search_registered_models()] == ["credit-default"]
    # Another team's engineer neither sees nor finds it.
    outsider = mlflow_as("other_engineer", basic=True)
    assert list(outsider.search_registered_models()) == []
    assert _error(lambda: outsider.get_registered_model("credit-default")).error_code == "RESOURCE_DOES_NOT_EXIST"
    # Auditors read everything and change nothing.
    auditor = mlflow_as("auditor")
    assert [m.name for m in auditor.search_registered_models()] == ["credit-default"]
    denied = _error(lambda: auditor.set_registered_model_tag("credit-default", "k", "v"))
    assert denied.error_code == "PERMISSION_DENIED" and "Auditors" in denied.message

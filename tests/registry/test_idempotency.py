from governance.models import AuditEvent
from registry.models import ModelVersion, RegisteredModel
from tests import factories


def test_same_key_same_body_replays_first_response(client_for, personas):
    client = client_for("engineer")
    headers = {"HTTP_IDEMPOTENCY_KEY": "pipeline-run-42"}
    first = client.post("/api/v1/models/", {"name": "m1"}, format="json", **headers)
    events = AuditEvent.objects.count()
    second = client.post("/api/v1/models/", {"name": "m1"}, format="json", **headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert RegisteredModel.objects.count() == 1
    assert AuditEvent.objects.count() == events


def test_same_key_different_body_is_422(client_for, personas):
    client = client_for("engineer")
    headers = {"HTTP_IDEMPOTENCY_KEY": "k1"}
    client.post("/api/v1/models/", {"name": "m1"}, format="json", **headers)
    response = client.post("/api/v1/models/", {"name": "m2"}, format="json", **headers)
    assert response.status_code == 422
    assert "different request body" in response.json()["detail"]
    assert not RegisteredModel.objects.filter(name="m2").exists()


def test_multipart_version_retry_creates_one_version(client_for, personas):
    factories.model(personas["engineer"])
    client = client_for("engineer")
    url = "/api/v1/models/credit-default/versions/"
    for _ in range(2):
        response = client.post(
            url, {"artifact": factories.upload(factories.skops_bytes(), "m.skops")},
            format="multipart", HTTP_IDEMPOTENCY_KEY="v-1",
        )
        assert response.status_code == 201 and response.json()["version"] == 1
    assert ModelVersion.objects.count() == 1


def test_failed_request_does_not_burn_the_key(client_for, personas):
    client = client_for("engineer")
    headers = {"HTTP_IDEMPOTENCY_KEY": "k2"}
    bad = client.post("/api/v1/models/", {"name": "Bad Name"}, format="json", **headers)
    assert bad.status_code == 400
    ok = client.post("/api/v1/models/", {"name": "Bad Name"}, format="json", **headers)
    assert ok.status_code == 400  # same body, evaluated again rather than replayed as a success

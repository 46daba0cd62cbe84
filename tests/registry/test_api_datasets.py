import io

import pandas as pd

from registry.models import DatasetVersion
from tests import contract, factories

URL = "/api/v1/datasets/"


def test_register_dataset_and_versions(client_for, personas):
    client = client_for("engineer")
    response, event = contract.assert_creates_one_audit_event(
        client, URL,
        {"name": "loans", "contains_personal_data": True, "sensitive_attributes": ["sex", "age"]},
        "registry.dataset.registered",
    )
    assert response.json()["sensitive_attributes"] == ["sex", "age"]
    csv = b"income,age,sex,label\n10,30,F,0\n20,40,M,1\n30,50,F,1\n"
    up = client.post(URL + "loans/versions/", {"file": factories.upload(csv, "loans.csv")},
                     format="multipart")
    assert up.status_code == 201, up.content
    body = up.json()
    assert body["version"] == 1 and body["row_count"] == 3 and body["data_format"] == "csv"
    assert [c["name"] for c in body["schema"]] == ["income", "age", "sex", "label"]

    buf = io.BytesIO()
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(buf)
    up2 = client.post(URL + "loans/versions/",
                      {"file": factories.upload(buf.getvalue(), "loans.parquet")}, format="multipart")
    assert up2.status_code == 201 and up2.json()["row_count"] == 2
    ext = client.post(URL + "loans/versions/", {
        "uri": "s3://bucket/loans/2026-10.parquet", "sha256": "d" * 64, "row_count": 1000000,
        "window_start": "2026-10-01T00:00:00Z", "window_end": "2026-10-31T23:59:59Z",
    }, format="json")
    assert ext.status_code == 201 and ext.json()["version"] == 3
    assert client.get(URL + "loans/versions/3/").json()["row_count"] == 1000000
    assert client.get(URL + "loans/").json()["version_count"] == 3


def test_dataset_version_validation(client_for, personas):
    factories.dataset(personas["engineer"])
    client = client_for("engineer")
    bad_window = client.post(URL + "loans/versions/", {
        "uri": "s3://x", "sha256": "d" * 64,
        "window_start": "2026-10-31T00:00:00Z", "window_end": "2026-10-01T00:00:00Z",
    }, format="json")
    assert bad_window.status_code == 400 and "window_start" in bad_window.json()["errors"]
    no_sha = client.post(URL + "loans/versions/", {"uri": "s3://x"}, format="json")
    assert no_sha.status_code == 400 and "sha256" in no_sha.json()["errors"]
    bad_type = client.post(URL + "loans/versions/",
                           {"file": factories.upload(b"x", "loans.xlsx")}, format="multipart")
    assert bad_type.status_code == 400 and "CSV" in bad_type.json()["detail"]
    assert not DatasetVersion.objects.exists()


def test_dataset_writes_limited_to_team(client_for, personas):
    factories.dataset(personas["engineer"])
    response = client_for("other_engineer").post(
        URL + "loans/versions/", {"uri": "s3://x", "sha256": "d" * 64}, format="json"
    )
    assert response.status_code == 403
    contract.assert_auditor_403(client_for("auditor"), URL, data={"name": "y"})
    contract.assert_anonymous_401(URL)


def test_dataset_list_query_count_bounded(client_for, personas):
    factories.dataset(personas["engineer"], name="d0")

    def grow():
        for i in range(1, 6):
            factories.dataset(personas["engineer"], name=f"d{i}")

    contract.assert_list_queries_bounded(client_for("engineer"), URL, grow)


def test_a_personal_data_file_is_for_its_team_and_the_roles_that_read_everything(
    client_for, personas
):
    eng = personas["engineer"]
    personal = factories.dataset(eng, name="applicants", contains_personal_data=True)
    factories.dataset_version(eng, personal)
    public = factories.dataset(eng, name="rates")
    factories.dataset_version(eng, public)
    outsider = client_for("other_engineer")
    assert outsider.get("/api/v1/datasets/applicants/").status_code == 200  # the record: open
    refused = outsider.get("/api/v1/datasets/applicants/versions/1/file/")
    assert refused.status_code == 403 and "holds personal data" in refused.json()["detail"]
    assert outsider.get("/api/v1/datasets/rates/versions/1/file/").status_code == 200
    for name in ("engineer", "validator", "auditor"):
        got = client_for(name).get("/api/v1/datasets/applicants/versions/1/file/")
        assert got.status_code == 200, name
        assert b"".join(got.streaming_content).startswith(b"a,b,label")

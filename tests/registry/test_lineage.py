import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories

URL = "/api/v1/lineage/"


@pytest.fixture
def chain(personas):
    """loans@1 → a@1 → b@1 → c@1 (derived_from), plus eval data on c and a side branch d."""
    eng = personas["engineer"]
    loans = factories.dataset_version(eng, factories.dataset(eng, name="loans"))
    holdout = factories.dataset_version(eng, factories.dataset(eng, name="holdout"))
    a = factories.version(eng, factories.model(eng, name="a"), training_datasets=[loans.ref])
    b = factories.version(eng, factories.model(eng, name="b"), parents=[a.ref])
    c = factories.version(eng, factories.model(eng, name="c"), parents=[b.ref],
                          evaluation_datasets=[holdout.ref])
    factories.version(eng, factories.model(eng, name="d"), parents=[a.ref])
    return {"loans": loans, "a": a, "b": b, "c": c}


def _ids(body, key="nodes"):
    return sorted(n["id"] for n in body[key])


def test_upstream_with_depth(client_for, chain):
    client = client_for("validator")
    one = client.get(URL, {"node": "model:c@1", "direction": "upstream", "depth": 1}).json()
    assert _ids(one) == ["dataset:holdout@1", "model:b@1", "model:c@1"]
    full = client.get(URL, {"node": "model:c@1", "direction": "upstream", "depth": 10}).json()
    assert _ids(full) == [
        "dataset:holdout@1", "dataset:loans@1", "model:a@1", "model:b@1", "model:c@1"
    ]
    kinds = {(e["source"], e["target"]): e["kind"] for e in full["edges"]}
    assert kinds[("dataset:loans@1", "model:a@1")] == "trained_on"
    assert kinds[("model:a@1", "model:b@1")] == "derived_from"
    assert kinds[("dataset:holdout@1", "model:c@1")] == "evaluated_on"


def test_downstream_of_dataset_any_depth(client_for, chain):
    client = client_for("auditor")
    two = client.get(URL, {"node": "dataset:loans@1", "direction": "downstream", "depth": 2}).json()
    assert _ids(two) == ["dataset:loans@1", "model:a@1", "model:b@1", "model:d@1"]
    full = client.get(URL, {"node": "dataset:loans@1", "direction": "downstream", "depth": 50}).json()
    assert _ids(full) == ["dataset:loans@1", "model:a@1", "model:b@1", "model:c@1", "model:d@1"]
    assert len(full["edges"]) == 4


def test_other_teams_models_in_a_graph_are_shown_as_restricted_nodes(client_for, chain, personas):
    other = personas["other_engineer"]
    factories.version(other, factories.model(other, name="fraud", team_name="fraud"),
                      training_datasets=["loans@1"])
    body = client_for("engineer").get(
        URL, {"node": "dataset:loans@1", "direction": "downstream", "depth": 1}).json()
    nodes = {n["id"]: n for n in body["nodes"]}
    assert nodes["model:fraud@1"] == {
        "id": "model:fraud@1", "type": "model", "name": "fraud", "version": 1,
        "stage": "development", "team": "fraud", "restricted": True,
    }
    assert "restricted" not in nodes["model:a@1"] and nodes["model:a@1"]["team"] == "credit"
    assert nodes["dataset:loans@1"]["type"] == "dataset"
    assert {"source": "dataset:loans@1", "target": "model:fraud@1", "kind": "trained_on"} in body["edges"]
    validator = client_for("validator").get(
        URL, {"node": "dataset:loans@1", "direction": "downstream", "depth": 1}).json()
    assert not any(n.get("restricted") for n in validator["nodes"])


def test_both_directions_at_once_is_the_union_of_the_two(client_for, chain):
    client = client_for("validator")
    params = {"node": "model:b@1", "depth": 10}
    up = client.get(URL, {**params, "direction": "upstream"}).json()
    down = client.get(URL, {**params, "direction": "downstream"}).json()
    both = client.get(URL, {**params, "direction": "both"}).json()
    assert _ids(both) == sorted(set(_ids(up)) | set(_ids(down)))
    key = lambda e: (e["source"], e["target"], e["kind"])  # noqa: E731
    assert sorted(map(key, both["edges"])) == sorted(set(map(key, up["edges"] + down["edges"])))
    data = client.get(URL, {"node": "dataset:loans@1", "direction": "both", "depth": 1}).json()
    assert _ids(data) == ["dataset:loans@1", "model:a@1"]


def test_downstream_of_model(client_for, chain):
    body = client_for("validator").get(URL, {"node": "model:a@1", "direction": "downstream"}).json()
    assert _ids(body) == ["model:a@1", "model:b@1", "model:c@1", "model:d@1"]


def test_lineage_is_constant_queries_whatever_the_depth(client_for, chain):
    client = client_for("validator")
    client.get(URL, {"node": "model:c@1"})  # warm-up: token last-used stamp
    counts = []
    for depth in (1, 3, 10):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL, {"node": "model:c@1", "depth": depth}).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] == counts[2]


@pytest.mark.parametrize("params,field", [
    ({"node": "bogus"}, "node"),
    ({"node": "model:c@1", "direction": "sideways"}, "direction"),
    ({"node": "model:c@1", "depth": 0}, "depth"),
    ({}, "node"),
])
def test_bad_lineage_params_are_400(client_for, chain, params, field):
    response = client_for("validator").get(URL, params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_unknown_node_is_404(client_for, chain):
    assert client_for("validator").get(URL, {"node": "model:zzz@1"}).status_code == 404

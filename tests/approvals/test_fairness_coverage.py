"""The fairness gate cannot be gamed by leaving attributes out of the job: its result must cover
every sensitive attribute the job's dataset declares, the version's own training and evaluation
datasets declare (whatever dataset the job ran on) and the tier's policy names."""

from __future__ import annotations

import copy

import pytest

from approvals import gates
from governance import selectors as gov_selectors
from governance import services as gov_services
from governance.policy import default_rules, rules_errors
from tests import factories
from tests.approvals.conftest import PASSING_FAIRNESS, succeeded_job

pytestmark = pytest.mark.django_db


def _result(*attributes: str) -> dict:
    """A passing fairness result over `attributes` (the same passing metrics for each)."""
    result = copy.deepcopy(PASSING_FAIRNESS)
    body = result["attributes"]["sex"]
    result["attributes"] = {a: copy.deepcopy(body) for a in attributes}
    return result


def _applicants(personas, *, declares: list[str]):
    ds = factories.dataset(personas["engineer"], name="applicants", sensitive_attributes=declares)
    return factories.dataset_version(
        personas["engineer"], ds, csv=b"income,sex,age_band,label\n1,f,18-25,0\n2,m,26-40,1\n"
    )


def _fairness_item(version) -> dict:
    report = gates.evaluate(version, "production")
    return next(i for i in report.items if i["key"] == "fairness"), report


def test_a_job_over_fewer_attributes_than_the_dataset_declares_is_refused(personas, make_ready):
    version = make_ready(tier=1, fairness=False)
    data = _applicants(personas, declares=["sex", "age_band"])
    job = succeeded_job(version, data, "fairness", _result("sex"))
    item, report = _fairness_item(version)
    assert item["met"] is False and not report.passed
    assert "age_band" in item["detail"] and "applicants@" in item["detail"]
    assert item["job_id"] == job.pk
    assert item["attributes_tested"] == ["sex"]
    assert item["attributes_missing"] == ["age_band"]
    assert report.evidence["fairness_attributes"] == {"required": ["sex", "age_band"],
                                                      "tested": ["sex"]}


def _version_trained_on(personas, make_ready, *, training: list[str], evaluation: list[str]):
    """A version of credit-default trained on a dataset declaring `training` and evaluated on
    one declaring `evaluation`."""
    model = make_ready(tier=1, fairness=False).model
    eng = personas["engineer"]
    train = factories.dataset_version(eng, factories.dataset(
        eng, name="applicants-train", sensitive_attributes=training))
    holdout = factories.dataset_version(eng, factories.dataset(
        eng, name="applicants-holdout", sensitive_attributes=evaluation))
    version = factories.version(eng, model, training_datasets=[train.ref],
                                evaluation_datasets=[holdout.ref])
    return version, train, holdout


def test_a_job_on_another_dataset_still_owes_the_lineages_attributes(personas, make_ready):
    version, train, _ = _version_trained_on(personas, make_ready, training=["sex", "age_band"],
                                            evaluation=["sex"])
    # The dodge: a fairness job on a dataset that declares only sex.
    elsewhere = _applicants(personas, declares=["sex"])
    job = succeeded_job(version, elsewhere, "fairness", _result("sex"))
    item, report = _fairness_item(version)
    assert item["met"] is False and not report.passed
    assert item["attributes_required"] == ["sex", "age_band"]
    assert item["attributes_missing"] == ["age_band"]
    assert (f"Job #{job.pk} tested sex but not age_band, which dataset {train.ref} declares "
            "sensitive") in item["detail"]
    succeeded_job(version, elsewhere, "fairness", _result("sex", "age_band"))
    item, report = _fairness_item(version)
    assert item["met"] is True, item["detail"]


def test_the_reason_names_each_source_of_a_missing_attribute(personas, make_ready):
    version, _, holdout = _version_trained_on(personas, make_ready, training=["sex"],
                                              evaluation=["sex", "region"])
    rules = gov_selectors.policy_for_tier(1).rules
    gov_services.tier_policy_publish(actor=personas["admin_user"], tier=1,
                                     rules={**rules, "fairness_attributes": ["age_band"]})
    succeeded_job(version, _applicants(personas, declares=["sex"]), "fairness", _result("sex"))
    item, _ = _fairness_item(version)
    assert item["attributes_missing"] == ["region", "age_band"]
    assert (f"not region, age_band, which dataset {holdout.ref} declares sensitive (region) and "
            "the tier 1 policy requires (age_band)") in item["detail"]


def test_a_job_over_every_declared_attribute_meets_the_gate(personas, make_ready):
    version = make_ready(tier=1, fairness=False)
    data = _applicants(personas, declares=["sex", "age_band"])
    succeeded_job(version, data, "fairness", _result("sex", "age_band"))
    item, report = _fairness_item(version)
    assert item["met"] is True, item["detail"]
    assert item["attributes_tested"] == ["age_band", "sex"] and item["attributes_missing"] == []
    assert report.passed


def test_covering_every_attribute_does_not_excuse_a_failed_metric(personas, make_ready):
    version = make_ready(tier=1, fairness=False)
    data = _applicants(personas, declares=["sex", "age_band"])
    result = _result("sex", "age_band")
    result["passed"] = False
    metric = result["attributes"]["age_band"]["metrics"]["disparate_impact_ratio"]
    metric.update(value=0.6, passed=False)
    succeeded_job(version, data, "fairness", result)
    item, _ = _fairness_item(version)
    assert item["met"] is False and "disparate_impact_ratio for age_band" in item["detail"]


def test_the_tier_policy_can_name_attributes_beyond_the_datasets(personas, make_ready):
    version = make_ready(tier=1, fairness=False)
    data = _applicants(personas, declares=["sex"])
    succeeded_job(version, data, "fairness", _result("sex"))
    rules = gov_selectors.policy_for_tier(1).rules
    gov_services.tier_policy_publish(actor=personas["admin_user"], tier=1,
                                     rules={**rules, "fairness_attributes": ["age_band"]})
    item, _ = _fairness_item(version)
    assert item["met"] is False
    assert "age_band" in item["detail"] and "tier 1 policy" in item["detail"]
    assert item["attributes_required"] == ["sex", "age_band"]


def test_policy_fairness_attributes_must_be_a_list_of_names():
    rules = default_rules(1)
    rules["fairness_attributes"] = ["sex", ""]
    assert "fairness_attributes" in rules_errors(rules)
    rules["fairness_attributes"] = ["sex", "age_band"]
    assert "fairness_attributes" not in rules_errors(rules)


def _crossed(result: dict, *pairs: tuple[str, str]) -> dict:
    body = next(iter(result["attributes"].values()))
    result["intersections"] = {f"{a} & {b}": copy.deepcopy(body) for a, b in pairs}
    return result


def _require_intersection(personas, pair: list[str]):
    rules = gov_selectors.policy_for_tier(1).rules
    return gov_services.tier_policy_publish(
        actor=personas["admin_user"], tier=1, rules={**rules, "fairness_intersections": [pair]})


def test_a_policy_intersection_not_computed_is_refused_with_the_reason(personas, make_ready):
    version = make_ready(tier=1, fairness=False)
    data = _applicants(personas, declares=["sex", "age_band"])
    succeeded_job(version, data, "fairness", _result("sex", "age_band"))  # no intersections
    _require_intersection(personas, ["sex", "age_band"])
    item, report = _fairness_item(version)
    assert item["met"] is False and not report.passed
    assert "intersection sex & age_band" in item["detail"]
    assert item["intersections_missing"] == ["sex & age_band"]
    assert report.evidence["fairness_intersections"] == {"required": ["sex & age_band"],
                                                         "tested": []}


def test_a_computed_intersection_meets_the_policy_in_either_order(personas, make_ready):
    version = make_ready(tier=1, fairness=False)
    data = _applicants(personas, declares=["sex", "age_band"])
    succeeded_job(version, data, "fairness",
                  _crossed(_result("sex", "age_band"), ("age_band", "sex")))
    _require_intersection(personas, ["sex", "age_band"])
    item, report = _fairness_item(version)
    assert item["met"] is True, item["detail"]
    assert item["intersections_tested"] == ["age_band & sex"]
    assert item["intersections_missing"] == []
    assert report.passed


def test_an_intersection_makes_its_attributes_required(personas, make_ready):
    version = make_ready(tier=1, fairness=False)
    data = _applicants(personas, declares=["sex"])
    succeeded_job(version, data, "fairness", _result("sex"))
    _require_intersection(personas, ["sex", "age_band"])
    item, _ = _fairness_item(version)
    assert item["met"] is False and item["attributes_missing"] == ["age_band"]
    assert "tier 1 policy requires" in item["detail"]


def test_a_failing_intersection_fails_the_gate(personas, make_ready):
    version = make_ready(tier=1, fairness=False)
    data = _applicants(personas, declares=["sex", "age_band"])
    result = _crossed(_result("sex", "age_band"), ("sex", "age_band"))
    result["passed"] = False
    result["intersections"]["sex & age_band"]["metrics"]["demographic_parity_difference"].update(
        value=0.25, passed=False)
    succeeded_job(version, data, "fairness", result)
    _require_intersection(personas, ["sex", "age_band"])
    item, _ = _fairness_item(version)
    assert item["met"] is False
    assert "demographic_parity_difference for sex & age_band" in item["detail"]


def test_policy_fairness_intersections_must_be_pairs_of_names():
    rules = default_rules(1)
    for bad in (["sex"], [["sex"]], [["sex", "sex"]], [["sex", ""]], [["a", "b", "c"]]):
        rules["fairness_intersections"] = bad
        assert any(k.startswith("fairness_intersections") for k in rules_errors(rules)), bad
    rules["fairness_intersections"] = [["sex", "age_band"]]
    assert rules_errors(rules) == {}


def test_the_checklist_shows_which_attributes_and_intersections_were_tested(
        personas, make_ready, client):
    version = make_ready(tier=1, fairness=False)
    data = _applicants(personas, declares=["sex", "age_band"])
    succeeded_job(version, data, "fairness", _result("sex"))
    _require_intersection(personas, ["sex", "age_band"])
    client.force_login(personas["owner"])
    page = client.get(f"/models/{version.model.name}/v{version.version}/").content.decode()
    assert "Attributes required: sex, age_band" in page
    assert "missing: age_band" in page
    assert "Intersections required: sex &amp; age_band" in page

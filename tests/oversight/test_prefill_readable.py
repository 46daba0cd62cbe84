"""Pre-filled documentation states fairness thresholds in words, not as Python dicts."""

from oversight import prefill


def test_prefilled_fairness_table_reads_thresholds_as_words():
    facts = {"fairness": [
        {"attribute": "sex", "metric": "demographic_parity_difference", "value": 0.03,
         "threshold": {"max": 0.1}, "passed": True},
        {"attribute": "sex", "metric": "disparate_impact_ratio", "value": 0.93,
         "threshold": {"min": 0.8}, "passed": True},
    ]}
    text = prefill.render("performance", facts)
    assert "at most 0.10" in text and "at least 0.80" in text
    assert "{'max'" not in text and '{"max"' not in text

"""Small helpers shared by the governance tests."""

from __future__ import annotations

CREDIT_ANSWERS = {
    "materiality": "high", "decisions_about_people": "yes", "annex_iii_area": "credit_scoring",
    "regulated_product": "no", "prohibited_practice": "none", "automation": "human_on_the_loop",
    "complexity": "medium", "personal_data": "personal", "interacts_with_people": "no",
    "vendor_model": "no",
}
LOW_ANSWERS = {
    "materiality": "low", "decisions_about_people": "no", "annex_iii_area": "none",
    "regulated_product": "no", "prohibited_practice": "none", "automation": "human_in_the_loop",
    "complexity": "low", "personal_data": "none", "interacts_with_people": "no",
    "vendor_model": "no",
}


def answers(**changes) -> dict:
    return {**LOW_ANSWERS, **changes}

"""The risk questionnaire and its scoring: answers -> score, tier (1 = highest) and EU AI Act class.

Pure code (no ORM), so the rules are easy to read, test and version. Tiering follows the usual
model-risk practice (SR 11-7 / PRA SS1/23: materiality x complexity x use), and the EU AI Act
class follows the Act's structure: Art. 5 prohibited practices, Art. 6 high-risk (Annex I products
and Annex III areas), Art. 50 transparency duties (limited), otherwise minimal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.errors import ValidationFailed
from governance.choices import EuAiActClass

QUESTIONNAIRE_VERSION = "2026.1"

# Points per answer: (option, label, points). Tier cut-offs below.
_MATERIALITY = [
    ("low", "Low: small internal impact, easily reversed", 0),
    ("medium", "Medium: noticeable financial or customer impact", 2),
    ("high", "High: material financial, customer or regulatory impact", 4),
]
_AUTOMATION = [
    ("human_in_the_loop", "A person decides; the model only advises", 0),
    ("human_on_the_loop", "The model decides; a person monitors and can intervene", 1),
    ("fully_automated", "Fully automated decisions, no routine human review", 3),
]
_COMPLEXITY = [
    ("low", "Transparent (rules, scorecard, linear model)", 0),
    ("medium", "Moderately complex (tree ensembles with explanations)", 1),
    ("high", "Opaque (deep learning, large ensembles, LLMs)", 2),
]
_PERSONAL_DATA = [
    ("none", "No personal data", 0),
    ("personal", "Personal data", 1),
    ("sensitive", "Special-category or sensitive data (health, ethnicity, biometrics …)", 2),
]
#: EU AI Act Annex III areas (high-risk when used there).
ANNEX_III_AREAS = [
    ("none", "None of these", 0),
    ("biometrics", "Biometric identification or categorisation (Annex III 1)", 3),
    ("critical_infrastructure", "Safety component of critical infrastructure (Annex III 2)", 3),
    ("education", "Education and vocational training: access, assessment (Annex III 3)", 3),
    ("employment", "Employment: recruitment, promotion, termination, monitoring (Annex III 4)", 3),
    ("essential_services", "Access to essential public services and benefits (Annex III 5(a))", 3),
    ("credit_scoring", "Creditworthiness or credit scoring of natural persons (Annex III 5(b))", 3),
    ("insurance_pricing", "Life and health insurance risk assessment and pricing (Annex III 5(c))", 3),
    ("emergency_triage", "Emergency call evaluation and patient triage (Annex III 5(d))", 3),
    ("law_enforcement", "Law enforcement (Annex III 6)", 3),
    ("migration", "Migration, asylum and border control (Annex III 7)", 3),
    ("justice_democracy", "Administration of justice and democratic processes (Annex III 8)", 3),
]
#: EU AI Act Art. 5 prohibited practices.
PROHIBITED_PRACTICES = [
    ("none", "None of these", 0),
    ("manipulative_techniques", "Subliminal, manipulative or deceptive techniques (Art. 5(1)(a))", 0),
    ("exploiting_vulnerabilities", "Exploiting vulnerabilities of age, disability or situation (Art. 5(1)(b))", 0),
    ("social_scoring", "Social scoring leading to unjustified detrimental treatment (Art. 5(1)(c))", 0),
    ("predictive_policing_profiling", "Predicting criminal offences from profiling alone (Art. 5(1)(d))", 0),
    ("untargeted_facial_scraping", "Untargeted scraping of facial images for recognition databases (Art. 5(1)(e))", 0),
    ("emotion_recognition_work_education", "Emotion recognition at work or in education (Art. 5(1)(f))", 0),
    ("biometric_categorisation_sensitive", "Biometric categorisation inferring sensitive traits (Art. 5(1)(g))", 0),
    ("realtime_remote_biometric_id", "Real-time remote biometric identification in public for policing (Art. 5(1)(h))", 0),
]

YES_NO = [("no", "No", 0), ("yes", "Yes", 1)]


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    help: str
    options: list[tuple[str, str, int]]
    drives: str
    yes_points: int | None = None  # for yes/no questions: points when "yes"

    def points(self, answer: str) -> int:
        if self.yes_points is not None:
            return self.yes_points if answer == "yes" else 0
        return {o[0]: o[2] for o in self.options}[answer]

    def label(self, answer: str) -> str:
        return {o[0]: o[1] for o in self.options}[answer]


QUESTIONS: list[Question] = [
    Question("materiality", "What is the financial and customer impact if the model is wrong?",
             "Think of the exposure the model drives, the customers affected and regulatory "
             "consequences (SR 11-7 materiality).", _MATERIALITY, "score"),
    Question("decisions_about_people", "Does the model make or inform decisions about natural persons?",
             "E.g. lending, pricing, hiring, treatment, access to services.", YES_NO, "score",
             yes_points=2),
    Question("annex_iii_area", "Is the model used in one of the EU AI Act Annex III areas?",
             "Use in one of these areas makes the system high-risk under Art. 6(2).",
             ANNEX_III_AREAS, "score, eu_ai_act_class"),
    Question("regulated_product", "Is it a safety component of a product under EU harmonisation law "
             "(Annex I: medical devices, machinery, vehicles …) needing third-party conformity assessment?",
             "Art. 6(1): such systems are high-risk.", YES_NO, "score, eu_ai_act_class",
             yes_points=3),
    Question("prohibited_practice", "Does the use involve any practice prohibited by EU AI Act Art. 5?",
             "A prohibited practice may not be placed on the market or used; such a model cannot "
             "be promoted.", PROHIBITED_PRACTICES, "eu_ai_act_class, tier"),
    Question("automation", "How automated are the decisions?",
             "Human oversight lowers the risk (EU AI Act Art. 14).", _AUTOMATION, "score"),
    Question("complexity", "How complex or opaque is the model?",
             "Opaque models are harder to validate and explain.", _COMPLEXITY, "score"),
    Question("personal_data", "Does the model use personal or sensitive data?",
             "GDPR special categories count as sensitive.", _PERSONAL_DATA, "score"),
    Question("interacts_with_people", "Does the system interact directly with people, or generate "
             "text, images, audio or video (chatbots, generative AI, deep fakes)?",
             "EU AI Act Art. 50 transparency duties make such systems 'limited' risk at least.",
             YES_NO, "eu_ai_act_class"),
    Question("vendor_model", "Is it a third-party or vendor model?",
             "Vendor models need vendor validation evidence and outcome analysis (SR 11-7 §V).",
             YES_NO, "score", yes_points=1),
]
QUESTION_BY_KEY = {q.key: q for q in QUESTIONS}

#: Score at or above which a model is tier 1 / tier 2.
TIER_1_MIN_SCORE = 10
TIER_2_MIN_SCORE = 5


@dataclass
class RiskResult:
    score: int
    risk_tier: int
    eu_ai_act_class: str
    reasons: list[dict[str, Any]] = field(default_factory=list)
    questionnaire_version: str = QUESTIONNAIRE_VERSION


def questionnaire() -> dict[str, Any]:
    """The questionnaire definition the API serves (and the portal renders)."""
    return {
        "version": QUESTIONNAIRE_VERSION,
        "questions": [
            {
                "key": q.key, "text": q.text, "help": q.help, "drives": q.drives,
                "options": [
                    {"value": v, "label": label,
                     "points": (q.yes_points if v == "yes" else 0) if q.yes_points is not None else pts}
                    for v, label, pts in q.options
                ],
            }
            for q in QUESTIONS
        ],
        "tiering": {
            "tier_1": f"score >= {TIER_1_MIN_SCORE}, or high materiality in an EU AI Act high-risk "
                      "use, or any prohibited practice",
            "tier_2": f"score >= {TIER_2_MIN_SCORE}, or any EU AI Act high-risk use",
            "tier_3": "otherwise",
        },
        "eu_ai_act_class": {
            "prohibited": "any Art. 5 practice",
            "high": "an Annex III area or an Annex I regulated product",
            "limited": "interacts with people or generates content (Art. 50)",
            "minimal": "otherwise",
        },
    }


def validate_answers(answers: Any) -> dict[str, str]:
    if not isinstance(answers, dict):
        raise ValidationFailed("answers must be an object of question -> option.",
                               errors={"answers": ["Must be an object."]})
    errors: dict[str, list[str]] = {}
    for key in sorted(set(answers) - set(QUESTION_BY_KEY)):
        errors[key] = ["Unknown question."]
    clean: dict[str, str] = {}
    for q in QUESTIONS:
        value = answers.get(q.key)
        if isinstance(value, bool):
            value = "yes" if value else "no"
        allowed = [o[0] for o in q.options]
        if value is None:
            errors[q.key] = ["This question must be answered."]
        elif value not in allowed:
            errors[q.key] = [f"Choose one of: {', '.join(allowed)}."]
        else:
            clean[q.key] = value
    if errors:
        first = next(iter(errors))
        raise ValidationFailed(f"The risk questionnaire is incomplete or invalid ({first}: "
                               f"{errors[first][0]})", errors=errors)
    return clean


def score_answers(answers: dict[str, Any]) -> RiskResult:
    """Score validated answers. Reasons list the answers that drove the score, tier and class."""
    answers = validate_answers(answers)
    reasons: list[dict[str, Any]] = []
    score = 0
    for q in QUESTIONS:
        pts = q.points(answers[q.key])
        if pts:
            score += pts
            reasons.append({"question": q.key, "answer": answers[q.key], "points": pts,
                            "effect": f"+{pts} score: {q.label(answers[q.key])}"})

    prohibited = answers["prohibited_practice"] != "none"
    high_risk_use = answers["annex_iii_area"] != "none" or answers["regulated_product"] == "yes"
    if prohibited:
        eu_class = EuAiActClass.PROHIBITED
        reasons.append({"question": "prohibited_practice", "answer": answers["prohibited_practice"],
                        "points": 0, "effect": "EU AI Act class prohibited (Art. 5): "
                        + QUESTION_BY_KEY["prohibited_practice"].label(answers["prohibited_practice"])
                        + "; the model cannot be promoted"})
    elif high_risk_use:
        eu_class = EuAiActClass.HIGH
        key = "annex_iii_area" if answers["annex_iii_area"] != "none" else "regulated_product"
        reasons.append({"question": key, "answer": answers[key], "points": 0,
                        "effect": "EU AI Act class high (Art. 6): "
                        + QUESTION_BY_KEY[key].label(answers[key])})
    elif answers["interacts_with_people"] == "yes":
        eu_class = EuAiActClass.LIMITED
        reasons.append({"question": "interacts_with_people", "answer": "yes", "points": 0,
                        "effect": "EU AI Act class limited: transparency duties (Art. 50)"})
    else:
        eu_class = EuAiActClass.MINIMAL

    if prohibited:
        tier, why = 1, "tier 1: a prohibited practice"
    elif score >= TIER_1_MIN_SCORE:
        tier, why = 1, f"tier 1: score {score} >= {TIER_1_MIN_SCORE}"
    elif high_risk_use and answers["materiality"] == "high":
        tier, why = 1, "tier 1: high materiality in an EU AI Act high-risk use"
    elif score >= TIER_2_MIN_SCORE:
        tier, why = 2, f"tier 2: score {score} >= {TIER_2_MIN_SCORE}"
    elif high_risk_use:
        tier, why = 2, "tier 2: an EU AI Act high-risk use"
    else:
        tier, why = 3, f"tier 3: score {score} < {TIER_2_MIN_SCORE}"
    reasons.append({"question": None, "answer": None, "points": 0, "effect": why})
    return RiskResult(score=score, risk_tier=tier, eu_ai_act_class=str(eu_class), reasons=reasons)

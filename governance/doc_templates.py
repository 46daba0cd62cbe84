"""The seeded documentation templates, as data: SR 11-7 model documentation and the EU AI Act
Annex IV technical documentation. Each section names the regulatory sources it answers (for the
coverage matrix) and the registry fact, if any, that pre-fills it."""

from __future__ import annotations

from typing import Any


def _s(key: str, title: str, guidance: str, sources: list[str], *, required: bool = True,
       prefill: str = "") -> dict[str, Any]:
    return {"key": key, "title": title, "guidance": guidance, "sources": sources,
            "required": required, "prefill": prefill}


SR11_7 = {
    "slug": "sr11-7",
    "title": "Model documentation (SR 11-7 / PRA SS1/23)",
    "description": "Model development, implementation and use documentation as expected by the "
                   "Federal Reserve / OCC SR 11-7 guidance and the PRA's SS1/23 principles.",
    "sections": [
        _s("purpose_and_use", "Purpose and intended use",
           "What business decision the model supports, who uses its output and how.",
           ["SR 11-7 §III (model development: purpose)", "PRA SS1/23 Principle 1.3",
            "EU AI Act Annex IV 1(a)"], prefill="model.intended_use"),
        _s("restrictions_on_use", "Restrictions on use",
           "Uses the model is not designed or validated for; populations and conditions excluded.",
           ["SR 11-7 §III (limitations and restrictions on use)", "EU AI Act Art. 13(3)(b)"],
           prefill="model.limitations"),
        _s("theory_and_design", "Theory and design",
           "The conceptual soundness of the approach and why it suits the purpose.",
           ["SR 11-7 §III (theory and design)", "SR 11-7 §V (evaluation of conceptual soundness)",
            "EU AI Act Annex IV 2(b)"], prefill="version.design"),
        _s("data_and_inputs", "Data and inputs",
           "Data sources, lineage, quality checks, representativeness, input features.",
           ["SR 11-7 §III (data quality and relevance)", "PRA SS1/23 Principle 3.3",
            "EU AI Act Art. 10", "EU AI Act Annex IV 2(d)"], prefill="lineage"),
        _s("methodology", "Methodology",
           "Estimation technique, hyperparameters, feature engineering and the code that built it.",
           ["SR 11-7 §III (methodology and processing)", "EU AI Act Annex IV 2(a)",
            "EU AI Act Annex IV 2(b)"], prefill="version.methodology"),
        _s("assumptions_and_limitations", "Assumptions and limitations",
           "Key assumptions, known weaknesses and their mitigation.",
           ["SR 11-7 §III (assumptions and limitations)", "EU AI Act Annex IV 3"],
           prefill="model.limitations"),
        _s("performance_testing", "Performance testing and outcomes analysis",
           "Accuracy, stability, sensitivity, explanation of drivers, fairness across groups, "
           "benchmarking and back-testing.",
           ["SR 11-7 §V (outcomes analysis)", "SR 11-7 §V (sensitivity analysis)",
            "PRA SS1/23 Principle 4.2", "EU AI Act Annex IV 2(g)", "EU AI Act Annex IV 4"],
           prefill="performance"),
        _s("implementation", "Implementation",
           "How the model runs in production: environment, interface, controls, versioning.",
           ["SR 11-7 §IV (model implementation)", "EU AI Act Annex IV 1(d)",
            "EU AI Act Annex IV 1(e)"], prefill="version.implementation"),
        _s("ongoing_monitoring", "Ongoing monitoring plan",
           "Metrics, thresholds, frequency, drift checks, triggers for redevelopment.",
           ["SR 11-7 §V (ongoing monitoring)", "PRA SS1/23 Principle 4.4",
            "EU AI Act Art. 72", "EU AI Act Annex IV 9"]),
        _s("component_models", "Component and upstream models",
           "Models whose output feeds this one (and vendor components), with their status.",
           ["SR 11-7 §III (model aggregation)", "SR 11-7 §VI (vendor and third-party products)"],
           required=False, prefill="lineage.parents"),
    ],
}

ANNEX_IV = {
    "slug": "eu-ai-act-annex-iv",
    "title": "Technical documentation (EU AI Act Annex IV)",
    "description": "The technical documentation a provider of a high-risk AI system keeps under "
                   "Art. 11 and Annex IV of Regulation (EU) 2024/1689.",
    "sections": [
        _s("general_description", "1. General description of the AI system",
           "(a) intended purpose, provider, version; (b) interaction with other hardware/software; "
           "(c) software versions; (d) forms in which it is placed on the market; (e) hardware; "
           "(f) product photos if a component; (g) user interface; (h) instructions for use.",
           ["EU AI Act Annex IV 1(a)-(h)", "EU AI Act Art. 13"], prefill="general"),
        _s("dev_methods", "2(a) Methods and steps of development",
           "Methods and steps performed for development, incl. pre-trained systems or third-party "
           "tools used and how they were modified.", ["EU AI Act Annex IV 2(a)"],
           prefill="version.methodology"),
        _s("dev_design", "2(b) Design specifications",
           "General logic, algorithms, key design choices and rationale, assumptions, what the "
           "system optimises for, relevance of parameters, trade-offs.",
           ["EU AI Act Annex IV 2(b)"], prefill="version.design"),
        _s("dev_architecture", "2(c) System architecture",
           "How software components build on or feed into each other; computational resources.",
           ["EU AI Act Annex IV 2(c)"], prefill="version.implementation"),
        _s("dev_data", "2(d) Data requirements and datasheets",
           "Training methodologies and data sets: provenance, scope, characteristics, labelling, "
           "cleaning (Art. 10).", ["EU AI Act Annex IV 2(d)", "EU AI Act Art. 10"],
           prefill="lineage"),
        _s("dev_oversight", "2(e) Human oversight measures",
           "Assessment of the human oversight measures needed (Art. 14) and technical measures "
           "to facilitate interpretation of outputs.", ["EU AI Act Annex IV 2(e)", "EU AI Act Art. 14"],
           prefill="fields.oversight_measures"),
        _s("dev_changes", "2(f) Pre-determined changes",
           "Pre-determined changes to the system and its performance, and technical solutions "
           "ensuring continued compliance.", ["EU AI Act Annex IV 2(f)"], required=False),
        _s("dev_validation", "2(g) Validation and testing procedures",
           "Validation and testing data, metrics for accuracy, robustness and compliance, "
           "potentially discriminatory impacts; test logs and reports signed by responsible persons.",
           ["EU AI Act Annex IV 2(g)", "EU AI Act Art. 15"], prefill="performance"),
        _s("dev_cybersecurity", "2(h) Cybersecurity measures",
           "Cybersecurity measures put in place (Art. 15(5)).", ["EU AI Act Annex IV 2(h)"]),
        _s("monitoring_and_control", "3. Monitoring, functioning and control",
           "Capabilities and limitations in performance, degrees of accuracy for groups, foreseeable "
           "unintended outcomes and risks, human oversight, input data specifications.",
           ["EU AI Act Annex IV 3", "EU AI Act Art. 13(3)"], prefill="model.limitations"),
        _s("performance_metrics", "4. Appropriateness of the performance metrics",
           "Why the chosen performance metrics suit this system.", ["EU AI Act Annex IV 4"],
           prefill="version.metrics"),
        _s("risk_management", "5. Risk management system",
           "The risk management system under Art. 9 (this model's risk assessment and tier).",
           ["EU AI Act Annex IV 5", "EU AI Act Art. 9"], prefill="risk"),
        _s("lifecycle_changes", "6. Relevant changes over the lifecycle",
           "Changes made by the provider through the system's lifecycle (the version history).",
           ["EU AI Act Annex IV 6"], prefill="version.history"),
        _s("standards_applied", "7. Harmonised standards and specifications applied",
           "Harmonised standards applied, or other solutions adopted to meet the requirements.",
           ["EU AI Act Annex IV 7"]),
        _s("eu_declaration", "8. EU declaration of conformity",
           "A copy of the EU declaration of conformity (Art. 47).", ["EU AI Act Annex IV 8",
                                                                     "EU AI Act Art. 47"]),
        _s("post_market_monitoring", "9. Post-market monitoring plan",
           "The system for evaluating performance in the post-market phase (Art. 72).",
           ["EU AI Act Annex IV 9", "EU AI Act Art. 72"], prefill="fields.monitoring_plan"),
    ],
}

SEEDED_TEMPLATES = [SR11_7, ANNEX_IV]

#: The vendor validation report section migration 0006 added to SR 11-7 (v2), whose attachment
#: the `vendor_validation_report` evidence gate looks for.
VENDOR_VALIDATION_REPORT_SECTION = "vendor_validation_report"

"""Load the demo: users of every role, datasets, real trained models and their lineage, then the
records (demo.records), the jobs (explainability.demo) and the promotions (demo.promotions).

Idempotent: a second run finds the demo in place and changes nothing.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from governance import services as gov
from governance.choices import Role
from governance.models import User
from registry import demo, services
from registry.models import Dataset, RegisteredModel

PASSWORD = "gatehouse-demo"
USERS = [
    ("eve", [Role.ENGINEER], ["credit-risk"], "ML engineer, credit-risk team"),
    ("omar", [Role.MODEL_OWNER, Role.ENGINEER], ["credit-risk"], "model owner, credit-risk"),
    ("hana", [Role.ENGINEER, Role.MODEL_OWNER], ["health-analytics"], "ML engineer, health"),
    ("val", [Role.VALIDATOR], ["model-risk"], "validator (model risk officer)"),
    ("vic", [Role.VALIDATOR], ["model-risk"], "second validator"),
    ("cora", [Role.COMPLIANCE], ["compliance"], "compliance officer"),
    ("bill", [Role.BUSINESS_APPROVER], ["retail-lending"], "business approver"),
    ("audrey", [Role.AUDITOR], [], "auditor (read-only)"),
    ("admin", [Role.ADMIN], [], "administrator"),
]


def ensure_users() -> dict[str, User]:
    users = {}
    for username, roles, teams, _ in USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = gov.user_create(
                username=username, roles=list(roles), teams=teams, password=PASSWORD,
                email=f"{username}@example.com",
            )
        users[username] = user
    return users


def ensure_registry(users: dict[str, User], stdout) -> None:
    from governance.models import Team

    if RegisteredModel.objects.filter(name="credit-default-gbm").exists():
        stdout.write("Demo registry already loaded.")
        return
    eve, omar, hana = users["eve"], users["omar"], users["hana"]
    credit = Team.objects.get(name="credit-risk")
    health = Team.objects.get(name="health-analytics")

    apps = services.dataset_register(
        actor=eve, name="credit-applications", team=credit, contains_personal_data=True,
        sensitive_attributes=["sex", "age_band"],
        description="Retail credit applications with 12-month default outcome (synthetic, seeded).",
    )
    train_df = demo.credit_table(seed=7)
    recent_df = demo.credit_table(n=3000, seed=11, shift=1.0)
    train_v = services.dataset_version_register(
        actor=eve, dataset=apps, file=_buf(demo.to_csv_bytes(train_df)),
        filename="credit_applications_2025.csv", description="Training window, 2025.",
    )
    recent_v = services.dataset_version_register(
        actor=eve, dataset=apps, file=_buf(demo.to_csv_bytes(recent_df)),
        filename="credit_applications_2026q3.csv", description="Recent production sample, 2026 Q3.",
    )
    cancer = services.dataset_register(
        actor=hana, name="breast-cancer-wisconsin", team=health, contains_personal_data=False,
        description="scikit-learn's bundled Wisconsin diagnostic breast cancer data.",
    )
    cancer_df = demo.cancer_table()
    cancer_v = services.dataset_version_register(
        actor=hana, dataset=cancer, file=_buf(demo.to_csv_bytes(cancer_df)), filename="wdbc.csv",
    )

    trained = demo.train_credit_models(train_df)
    specs = [
        ("credit-default-gbm", "Credit default — gradient boosting", "gbm", []),
        ("credit-default-logreg", "Credit default — logistic scorecard", "logreg", []),
        ("credit-default-lgbm", "Credit default — LightGBM challenger", "lgbm",
         ["credit-default-gbm@1"]),
    ]
    for name, title, key, parents in specs:
        model = services.model_register(
            actor=omar, name=name, team=credit, title=title, owner="omar", developers=["eve"],
            business_use_case="Decide retail loan applications and price credit risk.",
            intended_use="Probability of 12-month default for retail loan applicants.",
            limitations="Not validated for business lending or applicants under 19.",
            tags=["credit", "retail", key],
        )
        tm = trained[key]
        services.model_version_register(
            actor=eve, model=model, artifact_file=_buf(tm.artifact),
            artifact_filename=f"{name}.skops", framework=tm.framework,
            framework_version=tm.framework_version, code_repository="git.example.com/credit/pd",
            code_commit="4f2a9c1", hyperparameters=tm.hyperparameters, metrics=tm.metrics,
            environment=demo.environment(), signature=demo.signature(tm.features),
            training_datasets=[train_v.ref], evaluation_datasets=[recent_v.ref], parents=parents,
            description=f"{title}, first release.",
        )
    tm = demo.train_cancer_model(cancer_df)
    tumour = services.model_register(
        actor=hana, name="tumour-malignancy-rf", team=health,
        title="Tumour malignancy — random forest", owner="hana",
        business_use_case="Triage support for breast biopsy review.",
        intended_use="Decision support for radiologists; never an automated diagnosis.",
        limitations="Trained on one historical cohort; not for screening.",
        tags=["health", "triage"],
    )
    services.model_version_register(
        actor=hana, model=tumour, artifact_file=_buf(tm.artifact),
        artifact_filename="tumour.skops", framework=tm.framework,
        framework_version=tm.framework_version, hyperparameters=tm.hyperparameters,
        metrics=tm.metrics, environment=demo.environment(), signature=demo.signature(tm.features),
        training_datasets=[cancer_v.ref],
    )
    stdout.write(f"Loaded {RegisteredModel.objects.count()} models and {Dataset.objects.count()} datasets.")


def ensure_remediated(users: dict[str, User], stdout) -> None:
    """credit-default-gbm@2, the remediation of version 1's fairness failure on age_band:
    trained without age and credit history (its proxies), on the same data."""
    model = RegisteredModel.objects.filter(name="credit-default-gbm").first()
    if model is None or model.versions.filter(version=2).exists():
        return
    train_v = _credit_datasets().get(version=1)
    recent_v = _credit_datasets().get(version=2)
    tm = demo.train_remediated_gbm(demo.credit_table(seed=7))
    version = services.model_version_register(
        actor=users["eve"], model=model, artifact_file=_buf(tm.artifact),
        artifact_filename="credit-default-gbm-2.skops", framework=tm.framework,
        framework_version=tm.framework_version, code_repository="git.example.com/credit/pd",
        code_commit="9b7e3d2", hyperparameters=tm.hyperparameters, metrics=tm.metrics,
        environment=demo.environment(), signature=demo.signature(tm.features),
        training_datasets=[train_v.ref], evaluation_datasets=[recent_v.ref],
        parents=["credit-default-gbm@1"],
        description="Remediation of v1's fairness failure on age_band: trained without age and "
                    "credit history (its proxies).",
    )
    stdout.write(f"Registered {version.ref} (remediated: no age proxies).")


def _credit_datasets():
    from registry.models import DatasetVersion

    return DatasetVersion.objects.filter(dataset__name="credit-applications")


def _buf(data: bytes):
    import io

    return io.BytesIO(data)


class Command(BaseCommand):
    help = "Load the Gatehouse demo (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--print-logins", action="store_true", help="Only print the logins.")

    def handle(self, *args, **opts):
        if opts["print_logins"]:
            for username, _, _, what in USERS:
                self.stdout.write(f"    {username:<8} {what}")
            return
        from django.test import override_settings

        # The demo's notifications stay in the app's inboxes; don't print their e-mails.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            users = ensure_users()
            ensure_registry(users, self.stdout)
            ensure_remediated(users, self.stdout)
            for step in _later_steps():
                step(users, self.stdout)


def _later_steps() -> list:
    from demo.promotions import load_approvals_demo
    from demo.records import load_governance_demo
    from explainability.demo import load_explainability_demo

    return [load_governance_demo, load_explainability_demo, load_approvals_demo]

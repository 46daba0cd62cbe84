"""Demo evidence for `manage.py load_demo`: real SHAP, fairness and drift jobs on the demo models.

The jobs are queued and run through the same services and runtime a worker uses (in this process,
unchunked, no broker), so the portal shows real results right after `make run`. Idempotent.
"""

from __future__ import annotations

from explainability import runtime, services
from explainability.choices import JobKind, JobStatus
from explainability.models import Job
from registry.models import DatasetVersion, ModelVersion

MODEL = "credit-default-gbm"
DATASET = "credit-applications"


def load_explainability_demo(users: dict, stdout) -> None:
    version = ModelVersion.objects.select_related("model").filter(
        model__name=MODEL, version=1
    ).first()
    datasets = {
        dv.version: dv
        for dv in DatasetVersion.objects.select_related("dataset").filter(dataset__name=DATASET)
    }
    if version is None or not {1, 2} <= set(datasets):
        stdout.write("Explainability demo skipped: the demo registry is not loaded.")
        return
    if Job.objects.filter(model_version=version, status=JobStatus.SUCCEEDED).exists():
        stdout.write("Demo explainability jobs already run.")
        return
    actor = users["eve"]
    training, recent = datasets[1], datasets[2]
    plan = [
        (JobKind.SHAP, recent, {"sample_size": 300, "background_size": 100, "seed": 0}),
        (JobKind.SHAP, training, {"sample_size": 500, "background_size": 100, "seed": 0}),
        (JobKind.FAIRNESS, training, {"sensitive_attributes": ["sex", "age_band"],
                                      "label_column": "default"}),
        (JobKind.DRIFT, recent, {}),
    ]
    for kind, dataset, params in plan:
        job = services.job_start(
            actor=actor, version=version, kind=kind, dataset=dataset, params=params,
            enqueue=False,
        )
        job = runtime.run_inline(job.pk, worker="load_demo")
        outcome = job.status if job.status != JobStatus.FAILED else f"failed: {job.error_message}"
        stdout.write(f"  {kind} job {job.pk} on {version.ref} / {dataset.ref}: {outcome}")

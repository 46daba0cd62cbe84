"""One strategy per job kind: how a job is started (planned, or computed at once when small),
how one chunk is computed and how the chunks are merged. The worker runtime asks
`for_job(job)` and calls the three steps; it never branches on the kind.

Adding a kind means adding its three functions (in `compute` or a module of its own) and one
entry here. A kind that is never chunked has no chunk or merge step: asking for one is a bug.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explainability import compute, decisions, decisions_compute
from explainability.choices import JobKind
from explainability.models import Job

Start = Callable[..., "dict | list[dict]"]
Chunk = Callable[[Job, Path, dict[str, Any]], bool]
Merge = Callable[[Job, Path, list[dict[str, Any]]], dict[str, Any]]


@dataclass(frozen=True)
class Strategy:
    name: str
    start: Start  # (job, out_dir, *, allow_chunks) -> result, or the chunk specs
    chunk: Chunk | None = None
    merge: Merge | None = None

    def run_chunk(self, job: Job, out_dir: Path, spec: dict[str, Any]) -> bool:
        if self.chunk is None:
            raise ValueError(f"{self.name} jobs are not chunked")
        return self.chunk(job, out_dir, spec)

    def run_merge(self, job: Job, out_dir: Path, specs: list[dict[str, Any]]) -> dict[str, Any]:
        if self.merge is None:
            raise ValueError(f"{self.name} jobs are not chunked")
        return self.merge(job, out_dir, specs)


def _drift_start(job: Job, out_dir: Path, *, allow_chunks: bool) -> dict[str, Any]:
    return compute.drift_start(job, out_dir)  # two datasets compared at once: never chunked


SHAP = Strategy("shap", compute.shap_start, compute.shap_chunk, compute.shap_merge)
FAIRNESS_ON_MODEL = Strategy(
    "fairness", compute.fairness_start, compute.fairness_chunk, compute.fairness_merge
)
FAIRNESS_ON_DECISIONS = Strategy(
    "fairness (recorded decisions)", decisions_compute.start, decisions_compute.chunk,
    decisions_compute.merge,
)
DRIFT = Strategy("drift", _drift_start)

_BY_KIND = {JobKind.SHAP: SHAP, JobKind.FAIRNESS: FAIRNESS_ON_MODEL, JobKind.DRIFT: DRIFT}


def for_job(job: Job) -> Strategy:
    """The strategy of `job`: by kind, and for fairness by what is judged (the model's
    predictions, or decisions recorded elsewhere: params.mode "decisions")."""
    if job.kind == JobKind.FAIRNESS and decisions.is_decisions(job.params):
        return FAIRNESS_ON_DECISIONS
    return _BY_KIND[job.kind]

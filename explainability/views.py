"""Portal pages of explainability: start a SHAP / fairness / drift job from a version page, watch
it live (htmx polling), read a failed job's error, retry it, and read the results (SHAP plots and
top features, fairness pass/fail per metric and group, drift per feature).

The version page's evidence block is added through `registry.views.VERSION_SECTIONS`.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from common.errors import Forbidden, NotFound, ValidationFailed
from common.portal import form_errors_from, paginate, portal_view
from explainability import permissions, selectors, services
from explainability.choices import FINISHED, JobKind, JobStatus
from registry import selectors as registry_selectors
from registry import views as registry_views
from registry.models import DatasetVersion

SERVED_FILE_TYPES = {".svg": "image/svg+xml"}
#: Failures caused by the job's input (the worker's JobInputError): running the same inputs again
#: fails the same way, so the page offers "Edit and run again" instead of a retry.
BAD_INPUT_CODES = ("bad_input",)


class JobStartForm(forms.Form):
    kind = forms.ChoiceField(choices=JobKind.choices, label="Analysis")
    dataset = forms.ChoiceField(label="Dataset version", help_text="The data analysed (drift: the current data).")
    label_column = forms.CharField(
        required=False, max_length=100, label="Label column (fairness)",
        help_text="The column holding the true outcome.",
    )
    sensitive_attributes = forms.CharField(
        required=False, max_length=300, label="Sensitive attributes (fairness)",
        help_text="Comma-separated; empty uses the dataset's declared attributes.",
    )

    carried = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, dataset_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = list(dataset_choices)

    @classmethod
    def from_job(cls, job, *, dataset_choices=()) -> JobStartForm:
        """The form of "Edit and run again": a failed job's inputs, to correct. Parameters the
        form does not show are carried along unchanged (for the same kind of analysis)."""
        params = dict(job.params or {})
        edited = {"label_column", "sensitive_attributes"}
        carried = {k: v for k, v in params.items() if k not in edited and v is not None}
        return cls(initial={
            "kind": job.kind, "dataset": str(job.dataset_id),
            "label_column": params.get("label_column") or "",
            "sensitive_attributes": ", ".join(params.get("sensitive_attributes") or []),
            "carried": json.dumps({"kind": job.kind, "params": carried}),
        }, dataset_choices=dataset_choices)

    def _carried(self, kind: str) -> dict:
        try:
            value = json.loads(self.cleaned_data.get("carried") or "{}")
        except ValueError:
            return {}
        if not isinstance(value, dict) or value.get("kind") != kind:
            return {}
        return dict(value.get("params") or {})

    def params(self) -> dict:
        data = self.cleaned_data
        carried = self._carried(data["kind"])
        if data["kind"] != JobKind.FAIRNESS:
            return carried
        out: dict = carried
        if data.get("label_column"):
            out["label_column"] = data["label_column"].strip()
        attrs = [a.strip() for a in (data.get("sensitive_attributes") or "").split(",") if a.strip()]
        if attrs:
            out["sensitive_attributes"] = attrs
        return out


def params_text(params: dict | None) -> list[tuple[str, str]]:
    """A job's parameters as people read them: labels for names, thresholds in words
    ("demographic parity difference at most 0.10"), nothing for unset values."""
    from governance.audit_display import field_label, value_text
    from governance.fairness import threshold_text

    rows = []
    for name, value in (params or {}).items():
        if value in (None, "", [], {}):
            continue
        if name == "thresholds" and isinstance(value, dict):
            parts = []
            for metric, bounds in value.items():
                readable = isinstance(bounds, dict) and set(bounds) <= {"min", "max"}
                text = threshold_text(bounds) if readable else value_text(bounds)
                parts.append(f"{metric.replace('_', ' ')} {text}")
            text = "; ".join(parts)
        else:
            text = value_text(value)
        rows.append((field_label(name), text))
    return rows


def _require_start(user, model) -> None:
    why = permissions.explain_cannot_start_job(user, model)
    if why:
        raise Forbidden(why)


def _dataset_choices(version) -> list[tuple[str, str]]:
    """Dataset versions to analyse: the version's own lineage inputs first, then the rest."""
    own = [e.upstream_dataset for e in version.upstream_edges.all() if e.upstream_dataset_id]
    others = DatasetVersion.objects.select_related("dataset").exclude(
        pk__in=[d.pk for d in own]
    ).order_by("dataset__name", "-version")[:200]
    return [(str(d.pk), d.ref) for d in [*own, *others]]


def _default_form(version) -> JobStartForm:
    initial: dict = {}
    own = [e.upstream_dataset for e in version.upstream_edges.all() if e.upstream_dataset_id]
    if own:
        initial["dataset"] = str(own[0].pk)
    return JobStartForm(initial=initial, dataset_choices=_dataset_choices(version))


def evidence_section(request: HttpRequest, version) -> dict:
    """The version page's evidence block: jobs, latest results, and the start form if allowed."""
    jobs = list(selectors.jobs_for_version(version))
    latest = {}
    for job in jobs:
        if job.status == JobStatus.SUCCEEDED:
            latest.setdefault(job.kind, job)
    can_start = permissions.explain_cannot_start_job(request.user, version.model) is None
    return {
        "version": version, "jobs": jobs, "shap": latest.get(JobKind.SHAP),
        "fairness": latest.get(JobKind.FAIRNESS), "drift": latest.get(JobKind.DRIFT),
        "form": _default_form(version) if can_start else None,
        "live": any(j.status not in FINISHED for j in jobs),
    }


registry_views.VERSION_SECTIONS.append(
    registry_views.Section(order=20, template="explainability/_evidence.html", build=evidence_section)
)


@require_http_methods(["GET", "POST"])
@portal_view
def job_start(request: HttpRequest, name: str, version: int) -> HttpResponse:
    """POST: start a job. GET ?from=<job>: the form prefilled with that job's inputs ("Edit and
    run again" on a job that failed on its input)."""
    model = registry_selectors.model_get_for_user(request.user, name)
    mv = registry_selectors.version_get(model, version)
    if request.method == "GET":
        source = selectors.job_get_for_user(request.user, request.GET.get("from", ""))
        if source.model_version_id != mv.pk:
            raise NotFound(f"Job {source.pk} is not a job of {mv.ref}.")
        _require_start(request.user, model)
        return render(request, "explainability/job_start.html", {
            "form": JobStartForm.from_job(source, dataset_choices=_dataset_choices(mv)),
            "version": mv, "model": model, "source": source,
        })
    form = JobStartForm(request.POST, dataset_choices=_dataset_choices(mv))
    back = reverse("registry:version-detail", args=[name, version]) + "#evidence"
    if form.is_valid():
        dataset = DatasetVersion.objects.select_related("dataset").get(pk=form.cleaned_data["dataset"])
        try:
            job = services.job_start(
                actor=request.user, version=mv, kind=form.cleaned_data["kind"], dataset=dataset,
                params=form.params(),
            )
        except ValidationFailed as exc:
            form_errors_from(form, exc, prefix="params.")
        else:
            messages.success(request, f"{job.get_kind_display()} job #{job.pk} queued on {mv.ref}.")
            return redirect(back)
    return render(request, "explainability/job_start.html", {
        "form": form, "version": mv, "model": model,
    }, status=400)


@portal_view
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.job_get_for_user(request.user, job_id)
    return render(request, "explainability/job_detail.html", {
        "job": job, "can_manage": permissions.explain_cannot_manage_job(request.user, job) is None,
        "bad_input_codes": BAD_INPUT_CODES, "params": params_text(job.params),
        "chunk_runs": selectors.job_chunk_runs(job) if job.status == JobStatus.SUCCEEDED else None,
    })


@portal_view
def job_status(request: HttpRequest, job_id: int) -> HttpResponse:
    """The live status fragment (polled every 2 s while the job runs). When the job finishes the
    fragment asks the page to reload so the results appear."""
    job = selectors.job_get_for_user(request.user, job_id)
    response = render(request, "explainability/_job_status.html", {"job": job, "poll": True})
    if job.is_finished and request.GET.get("was") not in (None, "", *FINISHED):
        response["HX-Refresh"] = "true"
    return response


@require_POST
@portal_view
def job_retry(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.job_get_for_user(request.user, job_id)
    new = services.job_retry(actor=request.user, job=job)
    messages.success(request, f"Job #{job.pk} retried as job #{new.pk}.")
    return redirect("explainability:job-detail", job_id=new.pk)


@portal_view
def job_file(request: HttpRequest, job_id: int, name: str) -> HttpResponse:
    """A plot the job wrote (SVG only), served with a restrictive content security policy."""
    job = selectors.job_get_for_user(request.user, job_id)
    content_type = SERVED_FILE_TYPES.get("." + name.rsplit(".", 1)[-1].lower()) if "." in name else None
    stream = selectors.job_file_open(job, name) if content_type is not None else None
    if stream is None:
        raise Http404("No such file for this job.")
    response = FileResponse(stream, content_type=content_type)
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@portal_view
def job_list(request: HttpRequest) -> HttpResponse:
    qs = selectors.job_list_for_user(request.user)
    status = request.GET.get("status", "")
    kind = request.GET.get("kind", "")
    if status in JobStatus.values:
        qs = qs.filter(status=status)
    if kind in JobKind.values:
        qs = qs.filter(kind=kind)
    return render(request, "explainability/job_list.html", {
        "page": paginate(request, qs), "status": status, "kind": kind,
        "statuses": JobStatus.choices, "kinds": JobKind.choices,
    })

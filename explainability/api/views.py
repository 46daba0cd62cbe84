"""The jobs API. Views parse, call one service or selector, and render."""

from __future__ import annotations

import mimetypes

from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import NotFound, ValidationFailed
from common.idempotency import idempotent
from explainability import selectors, services
from explainability.api import serializers as s
from explainability.choices import JobKind, JobStatus
from registry import selectors as registry_selectors

_FILTERS = [
    OpenApiParameter("kind", str, enum=JobKind.values),
    OpenApiParameter("status", str, enum=JobStatus.values),
]


def _filtered(request, qs):
    for field, choices in (("kind", JobKind.values), ("status", JobStatus.values)):
        value = request.query_params.get(field)
        if value:
            if value not in choices:
                msg = f"{field} must be one of {', '.join(choices)}."
                raise ValidationFailed(msg, errors={field: [msg]})
            qs = qs.filter(**{field: value})
    return qs


class _Paginated(APIView):

    def _page(self, request, qs):
        from common.pagination import StandardPagination

        paginator = StandardPagination()
        page = paginator.paginate_queryset(_filtered(request, qs), request, view=self)
        data = s.JobOutput(page, many=True, with_result=False, context={"request": request}).data
        return paginator.get_paginated_response(data)


class VersionJobsView(_Paginated):
    """Jobs of one model version: list (?kind=&status=) and start one (202, queued)."""

    def _version(self, request, model_name: str, version: int):
        model = registry_selectors.model_get_for_user(request.user, model_name)
        return registry_selectors.version_get(model, version)

    @extend_schema(parameters=_FILTERS, responses={200: dict})
    def get(self, request, model_name: str, version: int):
        mv = self._version(request, model_name, version)
        return self._page(request, selectors.jobs_for_version(mv))

    @extend_schema(request=s.JobCreateInput, responses={202: dict})
    @idempotent
    def post(self, request, model_name: str, version: int):
        mv = self._version(request, model_name, version)
        data = s.JobCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        dataset = registry_selectors.dataset_version_get_by_ref(fields["dataset"], field="dataset")
        reference = None
        if fields.get("reference_dataset"):
            reference = registry_selectors.dataset_version_get_by_ref(
                fields["reference_dataset"], field="reference_dataset"
            )
        job = services.job_start(
            actor=request.user, version=mv, kind=fields["kind"], dataset=dataset,
            reference_dataset=reference, params=fields.get("params"),
        )
        job = selectors.job_get_for_user(request.user, job.pk)
        return Response(
            s.JobOutput(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )


class JobListView(_Paginated):
    """Every job the caller can see (?kind=&status=)."""

    @extend_schema(operation_id="jobs_list", parameters=_FILTERS, responses={200: dict})
    def get(self, request):
        return self._page(request, selectors.job_list_for_user(request.user))


class JobDetailView(APIView):

    @extend_schema(operation_id="jobs_retrieve", responses={200: dict})
    def get(self, request, pk: int):
        job = selectors.job_get_for_user(request.user, pk)
        return Response(s.JobOutput(job, context={"request": request}).data)


class JobCancelView(APIView):
    """Cancel a queued or running job (a running attempt's result is discarded)."""


    @extend_schema(request=None, responses={200: dict})
    def post(self, request, pk: int):
        job = selectors.job_get_for_user(request.user, pk)
        services.job_cancel(actor=request.user, job=job)
        job = selectors.job_get_for_user(request.user, pk)
        return Response(s.JobOutput(job, context={"request": request}).data)


class JobRetryView(APIView):
    """Retry a failed or cancelled job as a new job (202); the old one keeps its error."""


    @extend_schema(request=None, responses={202: dict})
    @idempotent
    def post(self, request, pk: int):
        job = selectors.job_get_for_user(request.user, pk)
        new = services.job_retry(actor=request.user, job=job)
        new = selectors.job_get_for_user(request.user, new.pk)
        return Response(
            s.JobOutput(new, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )


class JobFileView(APIView):
    """A file a succeeded job lists in its result (SHAP values .npz, SVG plots)."""


    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, pk: int, name: str):
        job = selectors.job_get_for_user(request.user, pk)
        stream = selectors.job_file_open(job, name)
        if stream is None:
            raise NotFound(f"Job {job.pk} has no file named {name!r}.")
        content_type = "image/svg+xml" if name.endswith(".svg") else (
            mimetypes.guess_type(name)[0] or "application/octet-stream"
        )
        response = FileResponse(
            stream, content_type=content_type,
            as_attachment=not name.endswith(".svg"), filename=name,
        )
        response["X-Content-Type-Options"] = "nosniff"
        # Generated SVGs are images: no scripts, even if one were ever opened directly.
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        return response

"""The engineers' registry API. Views parse, call one service or selector, and render."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from common import artifact_store
from common.api import check_content_length
from common.errors import Forbidden, NotFound, ValidationFailed
from common.idempotency import idempotent
from governance import permissions as perms
from governance.models import Team
from registry import filters, selectors, services
from registry.api import serializers as s
from registry.models import Dataset, DatasetVersion, ModelVersion, RegisteredModel


def resolve_team(user, team_name: str | None) -> Team:
    """The named team, or the caller's only team when none is named."""
    if team_name:
        team = Team.objects.filter(name=team_name).first()
        if team is None:
            msg = f"Unknown team {team_name!r}."
            raise ValidationFailed(msg, errors={"team": [msg]})
        return team
    teams = list(Team.objects.filter(id__in=user.team_ids))
    if len(teams) != 1:
        msg = "Name the owning team (you belong to %s)." % (
            ", ".join(t.name for t in teams) if teams else "no team"
        )
        raise ValidationFailed(msg, errors={"team": [msg]})
    return teams[0]


class ModelViewSet(viewsets.GenericViewSet):
    """Registered models: list (filters team, risk_tier, stage, search), create, get, patch."""

    queryset = RegisteredModel.objects.none()  # for the schema; get_queryset() applies visibility

    lookup_field = "name"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    filterset_class = filters.ModelFilter
    serializer_class = s.ModelOutput

    def get_queryset(self):
        return selectors.model_list_for_user(self.request.user).order_by("name")

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        selectors.with_developer_names(page)
        return self.get_paginated_response(s.ModelOutput(page, many=True).data)

    def _render(self, name: str) -> dict:
        model = selectors.model_get_for_user(self.request.user, name)
        return s.ModelOutput(selectors.with_developer_names([model])[0]).data

    @extend_schema(request=s.ModelCreateInput, responses={201: s.ModelOutput})
    @idempotent
    def create(self, request):
        data = s.ModelCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        team = resolve_team(request.user, fields.pop("team", None))
        model = services.model_register(actor=request.user, team=team, **fields)
        return Response(
            s.ModelOutput(selectors.with_developer_names([model])[0]).data,
            status=status.HTTP_201_CREATED,
        )

    def retrieve(self, request, name: str):
        return Response(self._render(name))

    @extend_schema(request=s.ModelUpdateInput, responses={200: s.ModelOutput})
    def partial_update(self, request, name: str):
        model = selectors.model_get_for_user(request.user, name)
        data = s.ModelUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.model_update(actor=request.user, model=model, changes=dict(data.validated_data))
        return Response(self._render(name))


class VersionViewSet(viewsets.GenericViewSet):
    """Versions of one model: JSON or multipart registration with the `artifact` file."""

    queryset = ModelVersion.objects.none()  # for the schema; get_queryset() applies visibility

    lookup_field = "version"
    lookup_value_regex = r"[0-9]+"
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    filterset_class = filters.VersionFilter
    serializer_class = s.VersionOutput

    def _model(self):
        return selectors.model_get_for_write(self.request.user, self.kwargs["model_name"])

    def get_queryset(self):
        return selectors.version_rows(self._model())

    def _render(self, model, version) -> dict:
        found = selectors.version_get(model, version, queryset=selectors.version_rows(model))
        return s.VersionOutput(selectors.with_lineage_refs([found])[0]).data

    def list(self, request, model_name: str):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        selectors.with_lineage_refs(page)
        return self.get_paginated_response(s.VersionOutput(page, many=True).data)

    @extend_schema(request=s.VersionCreateInput, responses={201: s.VersionOutput})
    @idempotent
    def create(self, request, model_name: str):
        check_content_length(request, settings.MAX_ARTIFACT_BYTES)
        data = s.VersionCreateInput(data=request.data)
        if not data.is_valid():
            self._model()  # an unknown or hidden model is a 404, whatever the body
            raise ValidationError(data.errors)
        fields = dict(data.validated_data)
        upload = fields.pop("artifact", None)
        if upload is None:  # found and numbered in one statement (the hot path)
            where = {"model_name": model_name}
        else:  # an upload is stored before the model's row is locked for its number
            where = {"model": self._model(), "artifact_file": upload, "artifact_filename": upload.name}
        version = services.model_version_register(actor=request.user, **where, **fields)
        # Answered from the objects just written (the service sets their lineage refs).
        return Response(s.VersionOutput(version).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, model_name: str, version: str):
        return Response(s.VersionOutput(selectors.version_for_api(request.user, model_name, version)).data)

    @extend_schema(request=s.VersionUpdateInput, responses={200: s.VersionOutput})
    def partial_update(self, request, model_name: str, version: str):
        model = self._model()
        current = selectors.version_get(model, version, queryset=selectors.version_rows(model))
        data = s.VersionUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        # Fields outside description/tags are passed through so the service names them as immutable.
        changes = {k: request.data[k] for k in request.data if k not in data.fields}
        changes.update(data.validated_data)
        services.model_version_update(actor=request.user, version=current, changes=changes)
        return Response(self._render(model, version))


class DatasetViewSet(viewsets.GenericViewSet):
    queryset = Dataset.objects.none()  # for the schema; get_queryset() applies visibility
    lookup_field = "name"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    filterset_class = filters.DatasetFilter
    serializer_class = s.DatasetOutput

    def get_queryset(self):
        return selectors.dataset_list().order_by("name")

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(s.DatasetOutput(page, many=True).data)

    @extend_schema(request=s.DatasetCreateInput, responses={201: s.DatasetOutput})
    @idempotent
    def create(self, request):
        data = s.DatasetCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        team = resolve_team(request.user, fields.pop("team", None))
        dataset = services.dataset_register(actor=request.user, team=team, **fields)
        return Response(s.DatasetOutput(dataset).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, name: str):
        return Response(s.DatasetOutput(selectors.dataset_get(name)).data)


class DatasetVersionViewSet(viewsets.GenericViewSet):
    queryset = DatasetVersion.objects.none()  # for the schema; get_queryset() applies visibility
    lookup_field = "version"
    lookup_value_regex = r"[0-9]+"
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    serializer_class = s.DatasetVersionOutput

    def get_queryset(self):
        return selectors.dataset_version_list(selectors.dataset_get(self.kwargs["dataset_name"]))

    def list(self, request, dataset_name: str):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.DatasetVersionOutput(page, many=True).data)

    @extend_schema(request=s.DatasetVersionCreateInput, responses={201: s.DatasetVersionOutput})
    @idempotent
    def create(self, request, dataset_name: str):
        check_content_length(request, settings.MAX_ARTIFACT_BYTES)
        dataset = selectors.dataset_get(dataset_name)
        data = s.DatasetVersionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        upload = fields.pop("file", None)
        dv = services.dataset_version_register(
            actor=request.user, dataset=dataset, file=upload,
            filename=getattr(upload, "name", ""), **fields,
        )
        return Response(s.DatasetVersionOutput(dv).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, dataset_name: str, version: str):
        dataset = selectors.dataset_get(dataset_name)
        return Response(s.DatasetVersionOutput(selectors.dataset_version_get(dataset, version)).data)


def _stored_file_response(stored, *, what: str, filename: str):
    if stored is None:
        raise NotFound(f"{what} has no uploaded file (it is registered by URI).")
    return artifact_store.download_response(
        stored.storage_path, filename=filename, sha256=stored.sha256
    )


class VersionArtifactView(APIView):
    """Download a version's uploaded artifact (streamed from the artifact storage)."""


    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, model_name: str, version: str):
        model = selectors.model_get_for_write(request.user, model_name)
        found = selectors.version_get(model, version)
        suffix = ".onnx" if found.artifact_format == "onnx" else ".skops"
        original = found.artifact.original_name if found.artifact else ""
        return _stored_file_response(
            found.artifact, what=f"Version {found.ref}",
            filename=original or f"{model.name}-v{found.version}{suffix}",
        )


class DatasetVersionFileView(APIView):
    """Download a dataset version's uploaded file (streamed from the artifact storage)."""


    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, dataset_name: str, version: str):
        dataset = selectors.dataset_get(dataset_name)
        refusal = perms.explain_cannot_download_dataset_file(request.user, dataset)
        if refusal:
            raise Forbidden(refusal)
        dv = selectors.dataset_version_get(dataset, version)
        suffix = ".parquet" if dv.data_format == "parquet" else ".csv"
        original = dv.file.original_name if dv.file else ""
        return _stored_file_response(
            dv.file, what=f"Dataset version {dv.ref}",
            filename=original or f"{dv.dataset.name}-v{dv.version}{suffix}",
        )


class LineageView(APIView):
    """Lineage from a node: ?node=model:NAME@V|dataset:NAME@V&direction=upstream|downstream|both&depth=N"""


    @extend_schema(
        parameters=[
            OpenApiParameter(
                "node", str, required=True, allow_blank=False,
                pattern=r"^(model|dataset):[-a-zA-Z0-9_]+@[1-9][0-9]*$",
                examples=[OpenApiExample("a model version", value="model:credit-default-logreg@1")],
            ),
            OpenApiParameter("direction", str, enum=["upstream", "downstream", "both"],
                             default="upstream"),
            OpenApiParameter("depth", {"type": "integer", "minimum": 1,
                                       "maximum": selectors.MAX_LINEAGE_DEPTH}, default=5),
        ],
        responses={200: dict},
    )
    def get(self, request):
        node = request.query_params.get("node", "")
        if not node:
            raise ValidationFailed("node is required.", errors={"node": ["This parameter is required."]})
        try:
            depth = int(request.query_params.get("depth", "5"))
        except ValueError:
            raise ValidationFailed("depth must be a whole number.", errors={"depth": ["not a number"]}) from None
        graph = selectors.lineage_graph(
            request.user, node=node, direction=request.query_params.get("direction", "upstream"),
            depth=depth,
        )
        return Response(graph)

"""Post-market monitoring plans and their crossings; incidents, their workflow and export."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import ExportView
from common.errors import NotFound, ValidationFailed
from common.idempotency import idempotent
from governance.models import User
from oversight import export_incidents, selectors, services
from oversight.api import serializers_monitoring as s
from oversight.api.lookups import model_for_user, version_from_input
from oversight.choices import OPEN_INCIDENT_STATUSES, IncidentStatus
from oversight.models import Incident


def _plan_out(model) -> dict:
    plan = selectors.plan_for(model)
    if plan is None:
        raise NotFound(f"Model {model.name!r} has no post-market monitoring plan.")
    return s.MonitoringPlanOutput(plan).data


class MonitoringPlanView(APIView):
    """GET: the model's post-market monitoring plan (404 when it has none). PUT: create or
    replace it (the owning team, validators, compliance). Loosening a threshold or retiring a
    watched metric is for validators, compliance and admins (403 naming the change); the
    responsible person must be able to see the model."""

    @extend_schema(responses={200: s.MonitoringPlanOutput})
    def get(self, request, name: str):
        return Response(_plan_out(model_for_user(request.user, name)))

    @extend_schema(request=s.MonitoringPlanInput, responses={200: s.MonitoringPlanOutput})
    def put(self, request, name: str):
        model = model_for_user(request.user, name)
        data = s.MonitoringPlanInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        responsible = User.objects.filter(username=v["responsible"]).first()
        if responsible is None:
            msg = f"No user named {v['responsible']!r}."
            raise ValidationFailed(msg, errors={"responsible": [msg]})
        services.monitoring_plan_save(
            actor=request.user, model=model, responsible=responsible,
            cadence_days=v["cadence_days"], notes=v["notes"],
            thresholds=[dict(t) for t in v["thresholds"]],
        )
        return Response(_plan_out(model))


class MonitoringCrossingsView(GenericAPIView):
    """Every crossing of the model's monitoring thresholds, newest first, with its finding."""

    serializer_class = s.CrossingOutput

    def get(self, request, name: str):
        model = model_for_user(request.user, name)
        page = self.paginate_queryset(selectors.crossings_for(model))
        return self.get_paginated_response(s.CrossingOutput(page, many=True).data)


class IncidentClockListView(APIView):
    """The statutory reporting clocks (data): each kind of serious incident and its days."""

    @extend_schema(responses={200: s.IncidentClockOutput(many=True)})
    def get(self, request):
        return Response(s.IncidentClockOutput(selectors.incident_clocks(), many=True).data)


class IncidentFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model__name")
    status = django_filters.ChoiceFilter(choices=IncidentStatus.choices)
    serious = django_filters.BooleanFilter()
    open = django_filters.BooleanFilter(method="filter_open")
    overdue = django_filters.BooleanFilter(method="filter_overdue")

    class Meta:
        model = Incident
        fields = ["model", "status", "serious"]

    def filter_open(self, qs, name, value):
        q = Q(status__in=OPEN_INCIDENT_STATUSES)
        return qs.filter(q) if value else qs.exclude(q)

    def filter_overdue(self, qs, name, value):
        q = Q(serious=True, authority_reported_at__isnull=True, deadline_at__lt=timezone.now(),
              status__in=OPEN_INCIDENT_STATUSES)
        return qs.filter(q) if value else qs.exclude(q)


def _incident_out(user, pk: int) -> dict:
    return s.IncidentOutput(selectors.incident_get_for_user(user, pk)).data


class IncidentListView(GenericAPIView):
    """GET: incidents on models you can see (filters: model, status, serious, open, overdue).
    POST: report one (the owning team, validators, compliance); dates never in the future."""

    serializer_class = s.IncidentOutput
    filterset_class = IncidentFilter

    def get_queryset(self):
        return selectors.incident_list_for_user(self.request.user)

    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(s.IncidentOutput(page, many=True).data)

    @extend_schema(request=s.IncidentInput, responses={201: s.IncidentOutput})
    @idempotent
    def post(self, request):
        data = s.IncidentInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        model = model_for_user(request.user, v.pop("model"))
        version = version_from_input(model, v)
        incident = services.incident_report(actor=request.user, model=model, version=version, **v)
        return Response(_incident_out(request.user, incident.pk), status=status.HTTP_201_CREATED)


class IncidentDetailView(APIView):
    @extend_schema(responses={200: s.IncidentOutput})
    def get(self, request, pk: int):
        return Response(_incident_out(request.user, pk))


class IncidentTransitionView(APIView):
    """Move an incident: investigating, reported_to_authority (with the authority's reference),
    closed (with a resolution; a serious one only after the authority was told). A serious
    incident is reported to the authority and closed only by validators, compliance or admins."""

    @extend_schema(request=s.IncidentTransitionInput, responses={200: s.IncidentOutput})
    def post(self, request, pk: int):
        incident = selectors.incident_get_for_user(request.user, pk)
        data = s.IncidentTransitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        services.incident_transition(
            actor=request.user, incident=incident, to_status=v["status"], note=v["note"],
            authority_reference=v["authority_reference"], resolution=v["resolution"],
        )
        return Response(_incident_out(request.user, pk))


class IncidentReclassifyView(APIView):
    """Validators, compliance and admins: make an incident serious (naming its kind), change its
    kind, or make it not serious, with a reason. The deadline follows the kind from
    became_known_at."""

    @extend_schema(request=s.IncidentReclassifyInput, responses={200: s.IncidentOutput})
    def post(self, request, pk: int):
        incident = selectors.incident_get_for_user(request.user, pk)
        data = s.IncidentReclassifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.incident_reclassify(actor=request.user, incident=incident, **data.validated_data)
        return Response(_incident_out(request.user, pk))


_FORMATS = ("json", "pdf", "html")


class IncidentExportView(ExportView):
    """The regulator-ready report of one incident: ?format=json|pdf|html."""

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(_FORMATS), default="json")],
        responses={(200, "application/json"): OpenApiTypes.OBJECT,
                   (200, "application/pdf"): OpenApiTypes.BINARY,
                   (200, "text/html"): OpenApiTypes.STR},
    )
    def get(self, request, pk: int):
        incident = selectors.incident_get_for_user(request.user, pk)
        fmt = request.query_params.get("format", "json")
        if fmt not in _FORMATS:
            msg = "format must be json, pdf or html."
            raise ValidationFailed(msg, errors={"format": [msg]})
        return export_incidents.response(incident, fmt, generated_by=request.user.username)

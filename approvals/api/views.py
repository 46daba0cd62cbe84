"""Promotion workflow API: views parse, call one service or selector, render."""

from __future__ import annotations

import django_filters
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import attestations, compliance, exceptions, gates, selectors, services
from approvals.api import serializers as s
from approvals.choices import State, TargetStage
from approvals.models import Notification, PolicyException, PromotionRequest
from common.errors import NotFound, ValidationFailed
from common.idempotency import idempotent
from registry import selectors as registry_selectors


class PromotionFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=State.choices)
    model = django_filters.CharFilter(field_name="model__name")
    target_stage = django_filters.ChoiceFilter(choices=TargetStage.choices)
    awaiting_role = django_filters.CharFilter(method="filter_awaiting")

    class Meta:
        model = PromotionRequest
        fields = ["state", "model", "target_stage"]

    def filter_awaiting(self, qs, name, value):
        return selectors.awaiting_role(qs, value)


def _detail(request, pk) -> dict:
    """The request as the caller sees it, read once (after any write) with its prefetches."""
    req = selectors.promotion_get_for_user(request.user, pk)
    return {**s.PromotionOutput(req).data, "allowed_actions": selectors.allowed_actions(request.user, req)}


class PromotionViewSet(viewsets.GenericViewSet):
    queryset = PromotionRequest.objects.none()
    lookup_value_regex = r"[0-9]+"
    filterset_class = PromotionFilter
    serializer_class = s.PromotionOutput

    def get_queryset(self):
        return selectors.promotion_list_for_user(self.request.user).order_by("-created_at")

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(
            s.PromotionOutput(page, many=True, context=s.revisions_context(page)).data
        )

    @extend_schema(request=s.PromotionCreateInput, responses={201: s.PromotionOutput})
    @idempotent
    def create(self, request):
        data = s.PromotionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        model = registry_selectors.model_get_for_user(request.user, v["model"])
        version = registry_selectors.version_get(model, v["version"])
        req = services.promotion_request_open(
            actor=request.user, version=version, target_stage=v["target_stage"],
            justification=v["justification"],
        )
        return Response(_detail(request, req.pk), status=status.HTTP_201_CREATED)

    def retrieve(self, request, pk=None):
        return Response(_detail(request, pk))

    @extend_schema(request=s.DecisionInput, responses={201: s.PromotionOutput})
    @action(detail=True, methods=["post"])
    def decisions(self, request, pk=None):
        req = selectors.promotion_get_for_user(request.user, pk)
        data = s.DecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        conditions = [{"text": c["text"], "due_date": c["due_date"].isoformat()} for c in v.get("conditions", [])]
        req = services.promotion_decide(
            actor=request.user, request_id=req.pk, decision=v["decision"], role=v["role"],
            comment=v["comment"], conditions=conditions,
        )
        return Response(_detail(request, req.pk), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ReasonInput, responses={200: s.PromotionOutput})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        req = selectors.promotion_get_for_user(request.user, pk)
        data = s.ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        req = services.promotion_withdraw(actor=request.user, request_id=req.pk, reason=data.validated_data["reason"])
        return Response(_detail(request, req.pk))

    @extend_schema(request=None, responses={200: s.PromotionOutput})
    @action(detail=True, methods=["post"])
    def execute(self, request, pk=None):
        req = selectors.promotion_get_for_user(request.user, pk)
        req = services.promotion_execute(actor=request.user, request_id=req.pk)
        return Response(_detail(request, req.pk))

    @extend_schema(request=s.ConditionResolveInput, responses={200: s.ConditionOutput})
    @action(detail=True, methods=["post"], url_path=r"conditions/(?P<condition_id>[0-9]+)/resolve")
    def resolve_condition(self, request, pk=None, condition_id=None):
        req = selectors.promotion_get_for_user(request.user, pk)
        data = s.ConditionResolveInput(data=request.data)
        data.is_valid(raise_exception=True)
        cond = services.condition_resolve(actor=request.user, request_id=req.pk,
                                          condition_id=int(condition_id), note=data.validated_data["note"])
        return Response(s.ConditionOutput(cond).data)


class ExceptionFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(
        choices=[(k, k) for k in selectors.EXCEPTION_FILTERS], method="filter_state",
        help_text="active (waiving now), expiring (within 7 days), expired, requested, all")
    model = django_filters.CharFilter(field_name="model__name")
    gate = django_filters.CharFilter()

    class Meta:
        model = PolicyException
        fields = ["state", "model", "gate"]

    def filter_state(self, qs, name, value):
        return selectors.exceptions_filtered(qs, value, now=timezone.now())


class ExceptionViewSet(viewsets.GenericViewSet):
    """Policy exceptions: a waiver of one gate for one version, until an expiry."""

    queryset = PolicyException.objects.none()
    lookup_value_regex = r"[0-9]+"
    filterset_class = ExceptionFilter
    serializer_class = s.ExceptionOutput

    def get_queryset(self):
        return selectors.exception_list_for_user(self.request.user).order_by("-created_at", "-pk")

    def _out(self, request, pk) -> dict:
        return s.ExceptionOutput(selectors.exception_get_for_user(request.user, pk)).data

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(s.ExceptionOutput(page, many=True).data)

    @extend_schema(request=s.ExceptionCreateInput, responses={201: s.ExceptionOutput})
    @idempotent
    def create(self, request):
        data = s.ExceptionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        model = registry_selectors.model_get_for_user(request.user, v["model"])
        version = registry_selectors.version_get(model, v["version"])
        exc = exceptions.exception_request(
            actor=request.user, version=version, gate=v["gate"], reason=v["reason"],
            compensating_controls=v["compensating_controls"], expires_at=v["expires_at"],
        )
        return Response(self._out(request, exc.pk), status=status.HTTP_201_CREATED)

    def retrieve(self, request, pk=None):
        return Response(self._out(request, pk))

    @extend_schema(request=s.ExceptionDecisionInput, responses={201: s.ExceptionOutput})
    @action(detail=True, methods=["post"])
    def decisions(self, request, pk=None):
        exc = selectors.exception_get_for_user(request.user, pk)
        data = s.ExceptionDecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        exceptions.exception_decide(actor=request.user, exception_id=exc.pk,
                                    decision=v["decision"], role=v["role"], comment=v["comment"])
        return Response(self._out(request, exc.pk), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ReasonInput, responses={200: s.ExceptionOutput})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        exc = selectors.exception_get_for_user(request.user, pk)
        data = s.ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        exceptions.exception_withdraw(actor=request.user, exception_id=exc.pk,
                                      reason=data.validated_data["reason"])
        return Response(self._out(request, exc.pk))


class ReadinessView(APIView):
    """Dry run of the gates for a target stage: what is met and what is missing, item by item."""


    @extend_schema(parameters=[OpenApiParameter("target_stage", str, enum=["staging", "production"])],
                   responses={200: dict})
    def get(self, request, model_name: str, version: int):
        model = registry_selectors.model_get_for_user(request.user, model_name)
        mv = registry_selectors.version_get(model, version)
        target = request.query_params.get("target_stage", "production")
        if target not in TargetStage.values:
            msg = "target_stage must be 'staging' or 'production'."
            raise ValidationFailed(msg, errors={"target_stage": [msg]})
        report = gates.evaluate(mv, target, now=timezone.now())
        body = report.as_dict()
        body["model"], body["version"] = model.name, mv.version
        body["ready"] = report.passed
        return Response(body)


class ComplianceView(APIView):
    """The version against the regulatory crosswalk: with `framework`, obligation by obligation
    (met with links to the evidence and its hash, missing with what to do, not applicable with
    why); without, every framework's counts."""

    @extend_schema(
        operation_id="version_compliance",
        parameters=[OpenApiParameter(
            "framework", str, enum=list(compliance.framework_names()), required=False,
            description="One framework, obligation by obligation (absent: every framework's summary).",
        )],
        responses={200: s.ComplianceOutput},
    )
    def get(self, request, model_name: str, version: int):
        model = registry_selectors.model_get_for_user(request.user, model_name)
        mv = registry_selectors.version_get(model, version)
        framework = request.query_params.get("framework") or None
        names = compliance.framework_names()
        if framework is not None and framework not in names:
            msg = f"framework must be one of {', '.join(names)} (not {framework!r})."
            raise ValidationFailed(msg, errors={"framework": [msg]})
        report = compliance.evaluate(mv, framework=framework)
        body = report if framework else compliance.summary(report)
        return Response(s.ComplianceOutput(body).data)


class RollbackView(APIView):

    @extend_schema(request=s.RollbackInput, responses={200: dict})
    def post(self, request, model_name: str, version: int):
        model = registry_selectors.model_get_for_user(request.user, model_name)
        mv = registry_selectors.version_get(model, version)
        data = s.RollbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        mv = services.version_rollback(actor=request.user, version=mv, reason=data.validated_data["reason"])
        return Response({"model": model.name, "version": mv.version, "stage": mv.stage})


class NotificationViewSet(viewsets.GenericViewSet):
    queryset = Notification.objects.none()
    lookup_value_regex = r"[0-9]+"
    serializer_class = s.NotificationOutput

    def get_queryset(self):
        return selectors.notifications_for_user(self.request.user)

    def list(self, request):
        qs = self.get_queryset()
        if request.query_params.get("unread") in ("1", "true"):
            qs = qs.filter(read_at__isnull=True)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.NotificationOutput(page, many=True).data)

    # No body: the schema must not describe the output as something to send.
    @extend_schema(request=None, responses={200: s.NotificationOutput})
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        note = self.get_queryset().filter(pk=pk).first()
        if note is None:
            raise NotFound(f"No notification {pk} in your inbox.")
        if note.read_at is None:
            note.read_at = timezone.now()
            note.save(update_fields=["read_at"])
        return Response(s.NotificationOutput(note).data)


class AttestationListView(APIView):
    """The signed release attestations of a version (DSSE envelopes around in-toto Statements),
    newest first, each with the audit checkpoint that sealed its promotion event once sealed.
    Check one offline: tools/gatehouse_verify.py attestation."""


    @extend_schema(operation_id="version_attestations_list",
                   responses={200: s.AttestationOutput(many=True)})
    def get(self, request, model_name: str, version: int):
        from governance.auditlog import proofs

        model = registry_selectors.model_get_for_user(request.user, model_name)
        mv = registry_selectors.version_get(model, version)
        rows = list(attestations.attestations_for_version(mv))
        numbers = proofs.checkpoint_numbers([a.audit_position for a in rows])
        return Response([attestations.attestation_dict(a, checkpoints=numbers) for a in rows])

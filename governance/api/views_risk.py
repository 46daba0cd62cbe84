"""Me, the risk questionnaire, risk assessments and tier policies."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from common.errors import Forbidden, ValidationFailed
from common.idempotency import idempotent
from governance import api_permissions, risk, selectors, services
from governance import permissions as perms
from governance.api import serializers as s
from governance.api.base import GovernanceView
from governance.api.lookups import model_for_user


class MeView(GovernanceView):
    """Who am I, which roles and teams I hold, and what I may do."""

    @extend_schema(responses={200: dict})
    def get(self, request):
        user = request.user
        return Response({
            "username": user.username,
            "name": user.get_full_name(),
            "email": user.email,
            "roles": sorted(user.role_names),
            "teams": sorted(user.teams.values_list("name", flat=True)),
            "read_only": perms.is_auditor_only(user),
            "capabilities": perms.capabilities(user),
        })


class QuestionnaireView(GovernanceView):
    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response(risk.questionnaire())


class RiskAssessmentListView(GenericAPIView):
    """GET: the model's assessment history (newest first). POST: answers -> a new assessment."""

    permission_classes = api_permissions.DEFAULT
    serializer_class = s.RiskAssessmentOutput

    def get(self, request, name: str):
        model = model_for_user(request.user, name)
        page = self.paginate_queryset(selectors.risk_assessment_list(model))
        return self.get_paginated_response(s.RiskAssessmentOutput(page, many=True).data)

    @extend_schema(request=s.RiskAssessmentInput, responses={201: s.RiskAssessmentOutput})
    @idempotent
    def post(self, request, name: str):
        model = model_for_user(request.user, name)
        data = s.RiskAssessmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        assessment = services.risk_assessment_create(
            actor=request.user, model=model, answers=data.validated_data["answers"]
        )
        return Response(s.RiskAssessmentOutput(assessment).data, status=status.HTTP_201_CREATED)


class RiskAssessmentDetailView(GovernanceView):
    @extend_schema(responses={200: s.RiskAssessmentOutput})
    def get(self, request, name: str, pk: int):
        model = model_for_user(request.user, name)
        return Response(s.RiskAssessmentOutput(selectors.risk_assessment_get(model, pk)).data)


class RiskOverrideView(GovernanceView):
    @extend_schema(request=s.RiskOverrideInput, responses={200: s.RiskAssessmentOutput})
    def post(self, request, name: str, pk: int):
        model = model_for_user(request.user, name)
        assessment = selectors.risk_assessment_get(model, pk)
        data = s.RiskOverrideInput(data=request.data)
        data.is_valid(raise_exception=True)
        assessment = services.risk_assessment_override(
            actor=request.user, assessment=assessment, tier=data.validated_data["tier"],
            justification=data.validated_data["justification"],
        )
        return Response(s.RiskAssessmentOutput(selectors.risk_assessment_get(model, assessment.pk)).data)


class PolicyListView(GenericAPIView):
    """GET: active policies (?tier=N&history=1 for every version). POST (admins): publish."""

    permission_classes = api_permissions.DEFAULT
    serializer_class = s.PolicyOutput

    def get(self, request):
        tier = request.query_params.get("tier")
        if tier is not None and tier not in ("1", "2", "3"):
            raise ValidationFailed("tier must be 1, 2 or 3.", errors={"tier": ["Must be 1, 2 or 3."]})
        history = request.query_params.get("history") in ("1", "true", "yes")
        qs = selectors.policy_list(tier=int(tier) if tier else None, active_only=not history)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.PolicyOutput(page, many=True).data)

    @extend_schema(request=s.PolicyInput, responses={201: s.PolicyOutput})
    def post(self, request):
        refusal = perms.explain_cannot_manage_policies(request.user)
        if refusal:
            raise Forbidden(refusal)
        data = s.PolicyInput(data=request.data)
        data.is_valid(raise_exception=True)
        policy = services.tier_policy_publish(actor=request.user, **data.validated_data)
        return Response(s.PolicyOutput(policy).data, status=status.HTTP_201_CREATED)


class PolicyDetailView(GovernanceView):
    @extend_schema(responses={200: s.PolicyOutput})
    def get(self, request, tier: int, version: int | None = None):
        policy = selectors.policy_for_tier(tier) if version is None else selectors.policy_get(tier, version)
        return Response(s.PolicyOutput(policy).data)

"""The risk questionnaire and the risk assessments of a model."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from common.idempotency import idempotent
from oversight import risk, selectors, services
from oversight.api import serializers as s
from oversight.api.lookups import model_for_user


class QuestionnaireView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response(risk.questionnaire())


class RiskAssessmentListView(GenericAPIView):
    """GET: the model's assessment history (newest first). POST: answers -> a new assessment."""

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


class RiskAssessmentDetailView(APIView):
    @extend_schema(responses={200: s.RiskAssessmentOutput})
    def get(self, request, name: str, pk: int):
        model = model_for_user(request.user, name)
        return Response(s.RiskAssessmentOutput(selectors.risk_assessment_get(model, pk)).data)


class RiskOverrideView(APIView):
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

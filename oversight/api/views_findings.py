"""Findings and their threads; overdue periodic reviews."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import ValidationFailed
from common.idempotency import idempotent
from governance.models import User
from oversight import selectors, services
from oversight.api import serializers as s
from oversight.api.filters import FindingFilter
from oversight.api.lookups import model_for_user, version_from_input
from oversight.models import Document


def _finding_out(user, pk: int) -> dict:
    finding = selectors.finding_get_for_user(user, pk)
    body = s.FindingOutput(finding).data
    body["responses"] = s.FindingResponseOutput(selectors.finding_thread(finding), many=True).data
    return body


class FindingListView(GenericAPIView):
    """GET: findings on models you can see (filters: model, version, status, severity, owner,
    blocking). POST: a validator or compliance opens one."""

    serializer_class = s.FindingOutput
    filterset_class = FindingFilter

    def get_queryset(self):
        return selectors.finding_list_for_user(self.request.user)

    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(s.FindingOutput(page, many=True).data)

    @extend_schema(request=s.FindingInput, responses={201: s.FindingOutput})
    @idempotent
    def post(self, request):
        data = s.FindingInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        model = model_for_user(request.user, v.pop("model"))
        version = version_from_input(model, v)
        document = None
        if "document" in v:
            document = Document.objects.select_related("version", "template").filter(pk=v.pop("document")).first()
            if document is None:
                raise ValidationFailed("No such document.", errors={"document": ["Unknown document."]})
        owner = None
        if "owner" in v:
            owner = User.objects.filter(username=v.pop("owner")).first()
            if owner is None:
                raise ValidationFailed("No such user.", errors={"owner": ["Unknown user."]})
        finding = services.finding_open(actor=request.user, model=model, version=version,
                                        document=document, owner=owner, **v)
        return Response(_finding_out(request.user, finding.pk), status=status.HTTP_201_CREATED)


class FindingDetailView(APIView):
    @extend_schema(responses={200: s.FindingOutput})
    def get(self, request, pk: int):
        return Response(_finding_out(request.user, pk))


class FindingRespondView(APIView):
    @extend_schema(request=s.FindingResponseInput, responses={201: s.FindingOutput})
    def post(self, request, pk: int):
        finding = selectors.finding_get_for_user(request.user, pk)
        data = s.FindingResponseInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.finding_respond(actor=request.user, finding=finding, body=data.validated_data["body"])
        return Response(_finding_out(request.user, pk), status=status.HTTP_201_CREATED)


class FindingTransitionView(APIView):
    @extend_schema(request=s.FindingTransitionInput, responses={200: s.FindingOutput})
    def post(self, request, pk: int):
        finding = selectors.finding_get_for_user(request.user, pk)
        data = s.FindingTransitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.finding_transition(actor=request.user, finding=finding,
                                    to_status=data.validated_data["status"],
                                    justification=data.validated_data["justification"],
                                    note=data.validated_data["note"])
        return Response(_finding_out(request.user, pk))


class OverdueReviewsView(APIView):
    """Models you can see whose periodic review date has passed (the dashboard's list)."""

    @extend_schema(responses={200: inline_serializer("OverdueReview", many=True, fields={
        "model": serializers.CharField(), "title": serializers.CharField(),
        "team": serializers.CharField(), "owner": serializers.CharField(allow_null=True),
        "risk_tier": serializers.IntegerField(allow_null=True),
        "next_review_date": serializers.DateField(allow_null=True),
    })})
    def get(self, request):
        rows = selectors.overdue_reviews(request.user)
        return Response([
            {"model": m.name, "title": m.title, "team": m.team.name,
             "owner": getattr(m.owner, "username", None), "risk_tier": m.risk_tier,
             "next_review_date": m.next_review_date}
            for m in rows
        ])

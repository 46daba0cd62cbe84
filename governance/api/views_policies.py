"""Me (who am I, what may I do) and the tier policies."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import Forbidden, ValidationFailed
from governance import permissions as perms
from governance import selectors, services
from governance.api import serializers as s


class MeView(APIView):
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


class PolicyListView(GenericAPIView):
    """GET: active policies (?tier=N&history=1 for every version). POST (admins): publish."""

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


class PolicyDetailView(APIView):
    @extend_schema(responses={200: s.PolicyOutput})
    def get(self, request, tier: int, version: int | None = None):
        policy = selectors.policy_for_tier(tier) if version is None else selectors.policy_get(tier, version)
        return Response(s.PolicyOutput(policy).data)

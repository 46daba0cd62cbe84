"""A model's use restrictions: list, record, withdraw."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import NotFound
from common.idempotency import idempotent
from oversight import selectors, services
from oversight.api import serializers as s
from oversight.api.lookups import model_for_user
from oversight.models import UseRestriction


class UseRestrictionListView(APIView):
    """GET: the model's restrictions (in force first, then expired; `?withdrawn=1` adds the
    withdrawn ones). POST: the owning team, a validator or compliance records one."""

    @extend_schema(parameters=[OpenApiParameter("withdrawn", bool)],
                   responses={200: s.UseRestrictionOutput(many=True)})
    def get(self, request, name: str):
        model = model_for_user(request.user, name)
        rows = selectors.use_restrictions_for(
            model, include_withdrawn=request.query_params.get("withdrawn") in ("1", "true"))
        return Response(s.UseRestrictionOutput(rows, many=True).data)

    @extend_schema(request=s.UseRestrictionInput, responses={201: s.UseRestrictionOutput})
    @idempotent
    def post(self, request, name: str):
        model = model_for_user(request.user, name)
        data = s.UseRestrictionInput(data=request.data)
        data.is_valid(raise_exception=True)
        restriction = services.use_restriction_add(actor=request.user, model=model,
                                                   **data.validated_data)
        return Response(s.UseRestrictionOutput(restriction).data, status=status.HTTP_201_CREATED)


class UseRestrictionWithdrawView(APIView):
    """Withdraw a restriction, with a reason. One recorded by a validator, compliance or an admin
    is withdrawn only by them (403 otherwise)."""

    @extend_schema(request=s.UseRestrictionWithdrawInput, responses={200: s.UseRestrictionOutput})
    def post(self, request, name: str, pk: int):
        model = model_for_user(request.user, name)
        restriction = UseRestriction.objects.filter(model=model, pk=pk).first()
        if restriction is None:
            raise NotFound(f"Model {model.name!r} has no use restriction #{pk}.")
        data = s.UseRestrictionWithdrawInput(data=request.data)
        data.is_valid(raise_exception=True)
        restriction = services.use_restriction_withdraw(
            actor=request.user, restriction=restriction, reason=data.validated_data["reason"])
        return Response(s.UseRestrictionOutput(restriction).data)

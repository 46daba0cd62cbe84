"""The stage history of a model, replayed from the audit record (governance reads it; the
registry knows which models the caller may see)."""

from __future__ import annotations

import datetime as dt

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import ValidationFailed
from governance import selectors as gov_selectors
from registry import selectors as registry_selectors


class StageHistoryView(APIView):
    """Stage changes of a model's versions from the audit record; ?at=<ISO datetime> adds which
    versions were in each stage (notably production) at that moment."""

    @extend_schema(parameters=[OpenApiParameter("at", str)], responses={200: dict})
    def get(self, request, name: str):
        model = registry_selectors.model_get_for_user(request.user, name)
        at = None
        raw = request.query_params.get("at")
        if raw:
            at = parse_datetime(raw.replace(" ", "+"))
            if at is None:
                raise ValidationFailed("at must be an ISO 8601 date-time.", errors={"at": ["Invalid."]})
            if at.tzinfo is None:
                at = at.replace(tzinfo=dt.UTC)
        return Response(gov_selectors.stage_history(model, at=at))

"""POST /api/v1/lineage/openlineage/: the endpoint an OpenLineage HTTP transport points at."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import ValidationFailed
from governance.models import Team
from openlineage_api import services
from openlineage_api.api.serializers import RunEventOutput


def _team(user, name: str | None):
    """The named team; else the caller's only team; else none (asked for only when the event
    brings a dataset Gatehouse has not seen)."""
    if name:
        team = Team.objects.filter(name=name).first()
        if team is None:
            msg = f"Unknown team {name!r}."
            raise ValidationFailed(msg, errors={"team": [msg]})
        return team
    teams = list(Team.objects.filter(id__in=user.team_ids)[:2])
    return teams[0] if len(teams) == 1 else None


class OpenLineageView(APIView):
    """Receive one OpenLineage RunEvent (JSON). 201 when recorded, 200 when it was a re-send."""

    parser_classes = [JSONParser]

    @extend_schema(
        request=dict,
        parameters=[OpenApiParameter("team", str, description="Team owning new datasets")],
        responses={200: RunEventOutput, 201: RunEventOutput},
    )
    def post(self, request):
        record, created = services.run_event_ingest(
            actor=request.user, event=request.data,
            team=_team(request.user, request.query_params.get("team")),
        )
        return Response(
            RunEventOutput(record).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

"""The audit record: list, verify, export (CSV / JSON Lines). The stage history of one model,
replayed from it, is served by registry.api.views_history."""

from __future__ import annotations

import csv
import io
import json

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import ExportView
from common.errors import Forbidden, ValidationFailed
from governance import audit, selectors
from governance import permissions as perms
from governance.action_labels import action_label
from governance.api import serializers as s
from governance.api.filters import AuditEventFilter

EXPORT_COLUMNS = [
    "seq", "timestamp", "actor_name", "actor_roles", "action", "object_type", "object_id",
    "object_repr", "model_name", "payload", "request_id", "client_ip", "prev_hash", "hash",
    "body",  # the canonical JSON the Merkle leaf hashes: SHA-256(0x00 || body)
]


class AuditEventListView(GenericAPIView):
    """Audit events you may read (governance roles: all; others: their teams' models and their
    own actions). Filters: object_type, object_id, model, actor, action, since, until."""

    serializer_class = s.AuditEventOutput
    filterset_class = AuditEventFilter

    def get_queryset(self):
        return selectors.audit_events_for_user(self.request.user)

    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(s.AuditEventOutput(page, many=True).data)


class AuditVerifyView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request):
        refusal = perms.explain_cannot_verify_audit_trail(request.user)
        if refusal:
            raise Forbidden(refusal)
        return Response(audit.verify_chain_once().as_dict())


def _rows(qs):
    return qs.values_list(*EXPORT_COLUMNS).iterator(chunk_size=2000)


# Beside each action code, the words the portal shows for it (a reader of the file in a
# spreadsheet should not need the code table).
_ACTION = EXPORT_COLUMNS.index("action")


def _jsonl(qs):
    for row in _rows(qs):
        record = dict(zip(EXPORT_COLUMNS, row, strict=True))
        record["timestamp"] = record["timestamp"].isoformat()
        record["action_label"] = action_label(record["action"])
        yield json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"


def _csv(qs):
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([*EXPORT_COLUMNS[:_ACTION + 1], "action_label", *EXPORT_COLUMNS[_ACTION + 1:]])
    for row in _rows(qs):
        row = list(row)
        row[1] = row[1].isoformat()
        row[3] = json.dumps(row[3])
        row[9] = json.dumps(row[9], ensure_ascii=False, sort_keys=True)
        row.insert(_ACTION + 1, action_label(row[_ACTION]))
        writer.writerow(row)
        if buf.tell() > 64_000:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


class AuditExportView(ExportView):
    """Stream the (filtered) events you may read: ?format=csv|jsonl plus the list's filters."""

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["csv", "jsonl"], default="jsonl")],
        responses={(200, "application/x-ndjson"): OpenApiTypes.STR,
                   (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request):
        fmt = request.query_params.get("format", "jsonl")
        if fmt not in ("csv", "jsonl"):
            raise ValidationFailed("format must be csv or jsonl.", errors={"format": ["csv or jsonl"]})
        params = request.query_params.copy()
        params.pop("format", None)
        fs = AuditEventFilter(params, queryset=selectors.audit_events_for_user(request.user))
        if not fs.is_valid():
            raise ValidationFailed("Invalid filter.", errors=fs.errors)
        qs = fs.qs.order_by("seq")
        if fmt == "csv":
            response = StreamingHttpResponse(_csv(qs), content_type="text/csv; charset=utf-8")
        else:
            response = StreamingHttpResponse(_jsonl(qs), content_type="application/x-ndjson")
        response["Content-Disposition"] = f'attachment; filename="audit-events.{fmt}"'
        return response

"""The Merkle audit log over HTTP: latest signed checkpoint, inclusion and consistency proofs,
the public key. Everything here can be checked offline with tools/gatehouse_verify.py."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import NotFound, ValidationFailed
from governance import selectors
from governance.api import serializers_auditlog as s
from governance.auditlog import proofs, signing

_ERRORS = {400: OpenApiResponse(description="Bad parameter (the sentence names it)."),
           404: OpenApiResponse(description="No such event, or not one you may read."),
           409: OpenApiResponse(description="Nothing sealed that far yet.")}


def _positive_int(raw: str | None, name: str, *, required: bool = True) -> int | None:
    if raw is None or raw == "":
        if required:
            raise ValidationFailed(f"{name} is required (a positive integer).",
                                   errors={name: ["This parameter is required."]})
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1 or not raw.strip().isdigit():
        raise ValidationFailed(f"{name} must be a positive integer, not {raw[:40]!r}.",
                               errors={name: ["A positive integer."]})
    return value


class LatestCheckpointView(APIView):
    """The latest signed tree head: size, root, time, Ed25519 signature over `signed_note`."""

    @extend_schema(operation_id="audit_checkpoint_latest",
                   responses={200: s.CheckpointOutput, 404: _ERRORS[404]})
    def get(self, request):
        cp = proofs.latest_checkpoint()
        if cp is None:
            raise NotFound("No checkpoint yet: the sealer has not sealed any event.",
                           code="not_sealed")
        return Response(proofs.checkpoint_dict(cp))


class InclusionProofView(APIView):
    """The audit path of one event to the root of a tree size (default: latest checkpoint)."""

    @extend_schema(
        operation_id="audit_event_proof",
        parameters=[OpenApiParameter("position", int, OpenApiParameter.PATH),
                    OpenApiParameter("tree_size", int, required=False,
                                     description="Default: the latest checkpoint's size.")],
        responses={200: s.InclusionProofOutput, **_ERRORS})
    def get(self, request, position: str):
        pos = _positive_int(position, "position")
        size = _positive_int(request.query_params.get("tree_size"), "tree_size", required=False)
        return Response(proofs.inclusion(
            position=pos, tree_size=size, visible=selectors.audit_events_for_user(request.user)))


class ConsistencyProofView(APIView):
    """Proof that the tree of `second` events extends the tree of `first` (nothing rewritten)."""

    @extend_schema(
        operation_id="audit_consistency_proof",
        parameters=[OpenApiParameter("first", int, required=True),
                    OpenApiParameter("second", int, required=True)],
        responses={200: s.ConsistencyProofOutput, 400: _ERRORS[400], 409: _ERRORS[409]})
    def get(self, request):
        first = _positive_int(request.query_params.get("first"), "first")
        second = _positive_int(request.query_params.get("second"), "second")
        return Response(proofs.consistency(first=first, second=second))


class PublicKeyView(APIView):
    """The Ed25519 public key that signs checkpoints and release attestations."""

    @extend_schema(operation_id="audit_public_key", responses={200: s.PublicKeyOutput})
    def get(self, request):
        return Response(signing.describe())

"""Documentation: templates, documents per version, sections, revisions, sign-off, export."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from common import artifact_store
from common.api import ExportView, check_content_length
from common.errors import NotFound, ValidationFailed
from common.idempotency import idempotent
from governance import selectors as gov_selectors
from oversight import export, prefill, selectors, services
from oversight.api import serializers as s
from oversight.api.lookups import version_for_user
from oversight.models import DocumentAttachment


def _doc_out(document, *, reload: bool = True) -> dict:
    """The document as the API shows it; `reload` after a write (the services change their own
    locked copy), not for a document a selector just read."""
    if reload:
        document = selectors.document_get(document.pk)
    return s.DocumentOutput(
        document, context={"required": selectors.document_required_sections(document)}
    ).data


class TemplateListView(APIView):
    @extend_schema(responses={200: s.TemplateOutput(many=True)})
    def get(self, request):
        return Response(s.TemplateOutput(gov_selectors.template_list(), many=True).data)


class VersionDocumentsView(APIView):
    """GET: the version's documents. POST {template}: start one, pre-filled from the registry."""

    @extend_schema(responses={200: s.DocumentOutput(many=True)})
    def get(self, request, name: str, version: int):
        mv = version_for_user(request.user, name, version)
        return Response([_doc_out(d, reload=False) for d in selectors.documents_for_version(mv)])

    @extend_schema(request=s.DocumentCreateInput, responses={201: s.DocumentOutput})
    @idempotent
    def post(self, request, name: str, version: int):
        mv = version_for_user(request.user, name, version)
        data = s.DocumentCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        document = services.document_create(
            actor=request.user, version=mv, template_slug=data.validated_data["template"],
            prefill=prefill.facts_for_version(mv, data.validated_data.get("facts")),
        )
        return Response(_doc_out(document), status=status.HTTP_201_CREATED)


class DocumentationStatusView(APIView):
    """Completeness under the model's tier policy, and the regulatory coverage matrix."""

    @extend_schema(responses={200: dict})
    def get(self, request, name: str, version: int):
        mv = version_for_user(request.user, name, version)
        tier = mv.model.risk_tier
        body = {"model": mv.model.name, "version": mv.version, "risk_tier": tier,
                "coverage": selectors.coverage_matrix(mv)}
        if tier:
            body["completeness"] = selectors.document_completeness(mv, gov_selectors.policy_for_tier(tier))
        else:
            body["completeness"] = None
            body["detail"] = "The model has no risk tier yet: assess its risk to know what is required."
        return Response(body)


class GovernanceGatesView(APIView):
    """The governance items of a promotion's readiness (a dry run): ?target_stage=staging|production."""

    @extend_schema(parameters=[OpenApiParameter("target_stage", str, enum=["staging", "production"])],
                   responses={200: dict})
    def get(self, request, name: str, version: int):
        mv = version_for_user(request.user, name, version)
        stage = request.query_params.get("target_stage", "production")
        if stage not in ("staging", "production"):
            raise ValidationFailed("target_stage must be staging or production.",
                                   errors={"target_stage": ["staging or production"]})
        if not mv.model.risk_tier:
            return Response({"ready": False, "items": [{
                "key": "risk_assessment", "met": False,
                "detail": "The model has no risk tier yet: assess its risk first."}]})
        policy = gov_selectors.policy_for_tier(mv.model.risk_tier)
        items = selectors.governance_gate_items(model=mv.model, version=mv, target_stage=stage,
                                                policy=policy)
        return Response({"ready": all(i["met"] for i in items), "target_stage": stage,
                         "policy": {"tier": policy.tier, "version": policy.version},
                         "items": items})


class DocumentDetailView(APIView):
    @extend_schema(responses={200: s.DocumentOutput})
    def get(self, request, pk: int):
        return Response(_doc_out(selectors.document_get_for_user(request.user, pk), reload=False))


class DocumentSectionView(APIView):
    """PUT {text, note, confirm_lapse}: save the section as a new revision (clears a sign-off;
    409 on a production version's signed-off document unless confirm_lapse is true)."""

    @extend_schema(request=s.SectionInput, responses={200: s.DocumentOutput})
    def put(self, request, pk: int, key: str):
        document = selectors.document_get_for_user(request.user, pk)
        data = s.SectionInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.document_section_save(actor=request.user, document=document, section_key=key,
                                       text=data.validated_data["text"],
                                       note=data.validated_data["note"],
                                       confirm_lapse=data.validated_data["confirm_lapse"])
        return Response(_doc_out(document))


class DocumentFieldsView(APIView):
    @extend_schema(request=s.FieldsInput, responses={200: s.DocumentOutput})
    def patch(self, request, pk: int):
        document = selectors.document_get_for_user(request.user, pk)
        data = s.FieldsInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.document_fields_update(actor=request.user, document=document,
                                        fields=data.validated_data["fields"],
                                        confirm_lapse=data.validated_data["confirm_lapse"])
        return Response(_doc_out(document))


class DocumentRevisionsView(APIView):
    @extend_schema(responses={200: s.RevisionOutput(many=True)})
    def get(self, request, pk: int):
        document = selectors.document_get_for_user(request.user, pk)
        return Response(s.RevisionOutput(selectors.document_revisions(document), many=True).data)


class DocumentRevisionDiffView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, pk: int, number: int):
        document = selectors.document_get_for_user(request.user, pk)
        return Response(selectors.revision_diff(document, number))


class DocumentSignOffView(APIView):
    @extend_schema(request=None, responses={200: s.DocumentOutput})
    def post(self, request, pk: int):
        document = selectors.document_get_for_user(request.user, pk)
        services.document_sign_off(actor=request.user, document=document)
        return Response(_doc_out(document))


class DocumentAttachmentsView(APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request=s.AttachmentInput, responses={201: s.DocumentOutput})
    def post(self, request, pk: int):
        check_content_length(request, settings.MAX_ARTIFACT_BYTES)
        document = selectors.document_get_for_user(request.user, pk)
        data = s.AttachmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        services.document_attachment_add(
            actor=request.user, document=document, section_key=data.validated_data["section"],
            upload=upload, filename=upload.name, content_type=getattr(upload, "content_type", "") or "",
            confirm_lapse=data.validated_data["confirm_lapse"],
        )
        return Response(_doc_out(document), status=status.HTTP_201_CREATED)


class DocumentAttachmentDownloadView(ExportView):
    """The attachment download answers the file itself (any content type)."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, pk: int, attachment_id: int):
        document = selectors.document_get_for_user(request.user, pk)
        attachment = DocumentAttachment.objects.filter(document=document, pk=attachment_id).first()
        if attachment is None:
            raise NotFound("No such attachment on this document.")
        return artifact_store.download_response(
            attachment.storage_path, filename=attachment.name, sha256=attachment.sha256
        )


_FORMATS = ("html", "pdf", "json")
_FORMAT_PARAMETER = OpenApiParameter("format", str, enum=list(_FORMATS), default="html")
# One answer per format: the model card is JSON (an object), the pack a page or a PDF file.
_EXPORT_RESPONSES = {
    (200, "text/html"): OpenApiTypes.STR,
    (200, "application/pdf"): OpenApiTypes.BINARY,
    (200, "application/json"): OpenApiTypes.OBJECT,
}


def _export(request, version, documents, stem: str, *, evidence: bool = True):
    fmt = request.query_params.get("format", "html")
    if fmt not in _FORMATS:
        raise ValidationFailed("format must be html, pdf or json.", errors={"format": list(_FORMATS)})
    if fmt == "json":
        card = export.model_card(version, documents)
        response = HttpResponse(json.dumps(card, indent=2, default=str), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{stem}-model-card.json"'
        return response
    html = export.render_pack_html(version, documents, generated_by=request.user.username,
                                   evidence=evidence)
    if fmt == "html":
        return HttpResponse(html, content_type="text/html; charset=utf-8")
    response = HttpResponse(export.render_pdf(html), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{stem}-documentation.pdf"'
    return response


class DocumentExportView(ExportView):
    """?format=html|pdf|json: this document as a page, a PDF, or the version's model card."""

    @extend_schema(parameters=[_FORMAT_PARAMETER], responses=_EXPORT_RESPONSES)
    def get(self, request, pk: int):
        document = selectors.document_get_for_user(request.user, pk)
        version = document.version
        return _export(request, version, [document], f"{version.model.name}-v{version.version}",
                       evidence=False)


class VersionPackExportView(ExportView):
    """The whole documentation pack of a version: ?format=html|pdf|json (the model card)."""

    @extend_schema(parameters=[_FORMAT_PARAMETER], responses=_EXPORT_RESPONSES)
    def get(self, request, name: str, version: int):
        mv = version_for_user(request.user, name, version)
        documents = selectors.documents_for_version(mv)
        return _export(request, mv, documents, f"{mv.model.name}-v{mv.version}")


_COVERAGE_SECTION = inline_serializer("CoverageSection", fields={
    "template": serializers.CharField(), "section": serializers.CharField(),
    "title": serializers.CharField(), "document_id": serializers.IntegerField(allow_null=True),
    "filled": serializers.BooleanField(), "signed_off": serializers.BooleanField(),
})
_COVERAGE_ROW = inline_serializer("CoverageRow", many=True, fields={
    "source": serializers.CharField(), "sections": _COVERAGE_SECTION.__class__(many=True),
    "covered": serializers.BooleanField(), "signed_off": serializers.BooleanField(),
})


class CoverageView(APIView):
    """One row per regulatory source (a list): the sections answering it and their state."""

    @extend_schema(responses={200: _COVERAGE_ROW})
    def get(self, request, name: str, version: int):
        mv = version_for_user(request.user, name, version)
        return Response(selectors.coverage_matrix(mv))


"""Shapes of the oversight API: *Input serializers validate, *Output serializers render."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from common.api import InputSerializer
from governance.models import DocumentTemplate
from oversight.choices import FindingStatus, Severity
from oversight.models import (
    Document,
    DocumentRevision,
    Finding,
    FindingResponse,
    RiskAssessment,
    UseRestriction,
)


def _username(user) -> str | None:
    return getattr(user, "username", None)


class RiskAssessmentInput(InputSerializer):
    answers = serializers.DictField(help_text="question key -> option value (see the questionnaire)")


class RiskOverrideInput(InputSerializer):
    tier = serializers.IntegerField(min_value=1, max_value=3)
    justification = serializers.CharField(allow_blank=True, required=False, default="")


class RiskAssessmentOutput(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    risk_tier = serializers.IntegerField(source="effective_tier")
    is_overridden = serializers.BooleanField()
    assessed_by = serializers.SerializerMethodField()
    overridden_by = serializers.SerializerMethodField()

    class Meta:
        model = RiskAssessment
        fields = [
            "id", "model", "questionnaire_version", "answers", "score", "risk_tier",
            "computed_tier", "override_tier", "is_overridden", "override_justification",
            "overridden_by", "overridden_at", "eu_ai_act_class", "reasons", "assessed_by",
            "created_at", "expires_at",
        ]

    def get_assessed_by(self, obj) -> str | None:
        return _username(obj.assessed_by)

    def get_overridden_by(self, obj) -> str | None:
        return _username(obj.overridden_by)


class TemplateOutput(serializers.ModelSerializer):
    class Meta:
        model = DocumentTemplate
        fields = ["slug", "version", "title", "description", "sections"]


class DocumentCreateInput(InputSerializer):
    template = serializers.SlugField(help_text="Template slug, e.g. sr11-7 or eu-ai-act-annex-iv.")
    facts = serializers.DictField(
        required=False, default=dict,
        help_text="Extra facts to pre-fill from (the registry's own facts are added automatically).",
    )


CONFIRM_LAPSE_HELP = (
    "Required (true) when the document of a production version is signed off: the edit clears "
    "that sign-off, flags the version and opens a finding for its owner. Without it the edit "
    "is refused with 409 saying so."
)


class SectionInput(InputSerializer):
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    confirm_lapse = serializers.BooleanField(required=False, default=False,
                                             help_text=CONFIRM_LAPSE_HELP)


class FieldsInput(InputSerializer):
    fields = serializers.DictField()
    confirm_lapse = serializers.BooleanField(required=False, default=False,
                                             help_text=CONFIRM_LAPSE_HELP)


class AttachmentInput(InputSerializer):
    section = serializers.CharField(max_length=64)
    file = serializers.FileField()
    confirm_lapse = serializers.BooleanField(required=False, default=False,
                                             help_text=CONFIRM_LAPSE_HELP)


class DocumentOutput(serializers.ModelSerializer):
    version = serializers.CharField(source="version.ref")
    model = serializers.CharField(source="version.model.name")
    template = serializers.CharField(source="template_slug")
    template_version = serializers.IntegerField(source="template.version")
    signed_off = serializers.BooleanField(source="is_signed_off")
    signed_off_by = serializers.SerializerMethodField()
    sections = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id", "model", "version", "template", "template_version", "revision", "signed_off",
            "signed_off_by", "signed_off_at", "signed_off_revision", "fields", "sections",
            "created_at", "updated_at",
        ]

    def get_signed_off_by(self, obj) -> str | None:
        return _username(obj.signed_off_by)

    def get_sections(self, obj) -> list[dict]:
        current = {s.key: s for s in obj.sections.all()}
        attachments: dict[str, list] = {}
        for a in obj.attachments.all():
            attachments.setdefault(a.section_key, []).append(
                {"id": a.pk, "name": a.name, "sha256": a.sha256, "size": a.size})
        required = set(self.context.get("required", []))
        out = []
        for spec in obj.template.sections:
            s = current.get(spec["key"])
            out.append({
                "key": spec["key"], "title": spec["title"], "guidance": spec.get("guidance", ""),
                "sources": spec.get("sources", []), "required": spec["key"] in required,
                "text": s.text if s else "", "revision": s.revision_number if s else None,
                "updated_by": _username(s.updated_by) if s else None,
                "updated_at": s.updated_at if s else None,
                "attachments": attachments.get(spec["key"], []),
            })
        return out


class RevisionOutput(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    section = serializers.CharField(source="section_key")

    class Meta:
        model = DocumentRevision
        fields = ["number", "section", "author", "created_at", "note"]

    def get_author(self, obj) -> str | None:
        return _username(obj.author)


class FindingInput(InputSerializer):
    model = serializers.SlugField()
    version = serializers.IntegerField(required=False, min_value=1)
    document = serializers.IntegerField(required=False)
    section_key = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    severity = serializers.ChoiceField(choices=Severity.choices)
    owner = serializers.CharField(required=False, help_text="Username; default the model owner.")
    due_date = serializers.DateField(required=False)


class FindingResponseInput(InputSerializer):
    body = serializers.CharField()


class FindingTransitionInput(InputSerializer):
    status = serializers.ChoiceField(choices=FindingStatus.choices)
    justification = serializers.CharField(required=False, allow_blank=True, default="")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class FindingResponseOutput(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = FindingResponse
        fields = ["id", "author", "body", "status_from", "status_to", "created_at"]

    def get_author(self, obj) -> str | None:
        return _username(obj.author)


class FindingOutput(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    version = serializers.SerializerMethodField()
    owner = serializers.SerializerMethodField()
    opened_by = serializers.SerializerMethodField()
    blocking = serializers.SerializerMethodField()

    class Meta:
        model = Finding
        fields = [
            "id", "model", "version", "document", "section_key", "title", "description",
            "severity", "status", "blocking", "owner", "due_date", "justification", "opened_by",
            "created_at", "updated_at", "resolved_at",
        ]

    def get_version(self, obj) -> int | None:
        return obj.version.version if obj.version_id else None

    def get_owner(self, obj) -> str | None:
        return _username(obj.owner)

    def get_opened_by(self, obj) -> str | None:
        return _username(obj.opened_by)

    def get_blocking(self, obj) -> bool:
        return obj.severity in ("high", "critical") and obj.status in ("open", "remediated")


class UseRestrictionInput(InputSerializer):
    kind = serializers.CharField(help_text="allowed_use | prohibited_use | population | geography")
    text = serializers.CharField(allow_blank=True)
    expires_on = serializers.DateField(required=False, allow_null=True, default=None)


class UseRestrictionWithdrawInput(InputSerializer):
    reason = serializers.CharField(allow_blank=True)


class UseRestrictionOutput(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    created_by = serializers.SerializerMethodField()
    withdrawn_by = serializers.SerializerMethodField()
    expired = serializers.SerializerMethodField()

    class Meta:
        model = UseRestriction
        fields = ["id", "model", "kind", "text", "expires_on", "expired", "created_by",
                  "created_at", "withdrawn_by", "withdrawn_at", "withdrawn_reason"]

    def get_created_by(self, obj) -> str | None:
        return _username(obj.created_by)

    def get_withdrawn_by(self, obj) -> str | None:
        return _username(obj.withdrawn_by)

    def get_expired(self, obj) -> bool:
        return bool(getattr(obj, "expired", obj.is_expired(timezone.localdate())))

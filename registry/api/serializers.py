"""Shapes of the registry API: *Input serializers validate, *Output serializers render."""

from __future__ import annotations

from rest_framework import serializers

from common.api import InputSerializer
from registry.choices import ArtifactFormat, EdgeKind, VersionKind
from registry.models import Dataset, DatasetVersion, ModelVersion, RegisteredModel

SLUG_HELP = "Lower-case letters, digits, hyphens and underscores."


class JSONDictField(serializers.JSONField):
    """A JSON object; in multipart forms it arrives as a JSON string."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            import json

            try:
                data = json.loads(data) if data.strip() else {}
            except ValueError:
                raise serializers.ValidationError("Must be a JSON object.") from None
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return data


class StringListField(serializers.ListField):
    """A list of strings; multipart forms may send a JSON list or a comma-separated string."""

    child = serializers.CharField(max_length=200)

    def to_internal_value(self, data):
        if hasattr(data, "getlist"):
            data = data.getlist(self.field_name)
        if isinstance(data, list) and len(data) == 1 and isinstance(data[0], str):
            data = data[0]
        if isinstance(data, str):
            import json

            stripped = data.strip()
            if stripped.startswith("["):
                try:
                    data = json.loads(stripped)
                except ValueError:
                    raise serializers.ValidationError("Must be a list of strings.") from None
            else:
                data = [p.strip() for p in stripped.split(",") if p.strip()]
        return super().to_internal_value(data)

    def get_value(self, dictionary):
        if hasattr(dictionary, "getlist") and self.field_name in dictionary:
            values = dictionary.getlist(self.field_name)
            return values if len(values) > 1 else values[0]
        return super().get_value(dictionary)


class ModelCreateInput(InputSerializer):
    name = serializers.SlugField(max_length=100, help_text=SLUG_HELP)
    team = serializers.SlugField(max_length=100, required=False, help_text="Owning team name.")
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    owner = serializers.CharField(required=False, help_text="Username of the model owner.")
    developers = StringListField(required=False)
    business_use_case = serializers.CharField(required=False, allow_blank=True)
    intended_use = serializers.CharField(required=False, allow_blank=True)
    limitations = serializers.CharField(required=False, allow_blank=True)
    tags = StringListField(required=False)


class ModelUpdateInput(InputSerializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    owner = serializers.CharField(required=False)
    developers = StringListField(required=False)
    business_use_case = serializers.CharField(required=False, allow_blank=True)
    intended_use = serializers.CharField(required=False, allow_blank=True)
    limitations = serializers.CharField(required=False, allow_blank=True)
    tags = StringListField(required=False)

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {f: ["This field cannot be edited here."] for f in unknown}
            )
        return attrs


_DATETIME = serializers.DateTimeField()
_DATE = serializers.DateField()


def _datetime(value):
    return None if value is None else _DATETIME.to_representation(value)


class ModelOutput(serializers.ModelSerializer):
    """A registered model. The fields below are its schema; `to_representation` writes them out
    directly, because a list page renders up to 200 of these and DRF's generic field walk cost
    more than the database did (tests hold the two renderings equal)."""

    team = serializers.CharField(source="team.name")
    owner = serializers.CharField(source="owner.username", default=None)
    developers = serializers.SerializerMethodField()
    version_count = serializers.IntegerField(source="latest_version", read_only=True)
    risk_tier_label = serializers.SerializerMethodField()

    class Meta:
        model = RegisteredModel
        fields = [
            "name", "title", "description", "team", "owner", "developers", "business_use_case",
            "intended_use", "limitations", "tags", "risk_tier", "risk_tier_label",
            "eu_ai_act_class", "next_review_date", "version_count", "created_at", "updated_at",
        ]

    def get_developers(self, obj) -> list[str]:
        return obj.developer_names  # set by selectors.with_developer_names

    def get_risk_tier_label(self, obj) -> str:
        return f"Tier {obj.risk_tier}" if obj.risk_tier else "unassessed"

    def to_representation(self, obj) -> dict:
        return {
            "name": obj.name,
            "title": obj.title,
            "description": obj.description,
            "team": obj.team.name,
            "owner": obj.owner.username if obj.owner_id else None,
            "developers": self.get_developers(obj),
            "business_use_case": obj.business_use_case,
            "intended_use": obj.intended_use,
            "limitations": obj.limitations,
            "tags": obj.tags,
            "risk_tier": obj.risk_tier,
            "risk_tier_label": self.get_risk_tier_label(obj),
            "eu_ai_act_class": obj.eu_ai_act_class,
            "next_review_date": (
                None if obj.next_review_date is None else _DATE.to_representation(obj.next_review_date)
            ),
            "version_count": obj.latest_version,
            "created_at": _datetime(obj.created_at),
            "updated_at": _datetime(obj.updated_at),
        }


class VersionCreateInput(InputSerializer):
    kind = serializers.ChoiceField(choices=VersionKind.choices, default=VersionKind.ARTIFACT)
    artifact = serializers.FileField(required=False, help_text="A .skops, .onnx or XGBoost model file (.json / .ubj).")
    artifact_uri = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    artifact_sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", required=False, allow_blank=True)
    artifact_format = serializers.ChoiceField(choices=ArtifactFormat.choices, required=False, allow_blank=True)
    vendor = JSONDictField(required=False)
    framework = serializers.CharField(max_length=100, required=False, allow_blank=True)
    framework_version = serializers.CharField(max_length=50, required=False, allow_blank=True)
    code_repository = serializers.CharField(max_length=500, required=False, allow_blank=True)
    code_commit = serializers.CharField(max_length=100, required=False, allow_blank=True)
    hyperparameters = JSONDictField(required=False)
    metrics = JSONDictField(required=False)
    environment = JSONDictField(required=False)
    signature = JSONDictField(required=False)
    training_datasets = StringListField(required=False)
    evaluation_datasets = StringListField(required=False)
    parents = StringListField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    tags = StringListField(required=False)

    def validate_metrics(self, value):
        bad = [k for k, v in value.items() if not isinstance(v, (int, float)) or isinstance(v, bool)]
        if bad:
            raise serializers.ValidationError(f"Metric values must be numbers: {', '.join(bad)}.")
        return value

    def validate_signature(self, value):
        inputs = value.get("inputs", [])
        if not isinstance(inputs, list) or any(
            not isinstance(i, dict) or "name" not in i for i in inputs
        ):
            raise serializers.ValidationError(
                'signature.inputs must be a list of {"name": ..., "type": ...} objects.'
            )
        return value


class VersionUpdateInput(InputSerializer):
    # A version's other fields are known but frozen: the service refuses them by that rule.
    extra_known_fields = (
        "kind", "artifact", "artifact_uri", "artifact_sha256", "artifact_format", "vendor",
        "framework", "framework_version", "code_repository", "code_commit", "hyperparameters",
        "metrics", "environment", "signature", "training_datasets", "evaluation_datasets",
        "parents", "stage", "provenance", "version", "model",
    )
    description = serializers.CharField(required=False, allow_blank=True)
    tags = StringListField(required=False)


class VersionOutput(serializers.ModelSerializer):
    """A model version. As with ModelOutput, `to_representation` writes the declared fields out
    directly (tests hold it equal to DRF's generic rendering). `lineage_refs` ({edge kind: sorted
    refs}) is set by `selectors.with_lineage_refs` or by the registration service."""

    model = serializers.CharField(source="model.name")
    created_by = serializers.CharField(source="created_by.username", default=None)
    training_datasets = serializers.SerializerMethodField()
    evaluation_datasets = serializers.SerializerMethodField()
    parents = serializers.SerializerMethodField()
    artifact_size = serializers.IntegerField(source="artifact.size", default=None)

    class Meta:
        model = ModelVersion
        fields = [
            "model", "version", "stage", "kind", "artifact_sha256", "artifact_uri",
            "artifact_format", "artifact_size", "vendor", "framework", "framework_version",
            "code_repository", "code_commit", "hyperparameters", "metrics", "environment",
            "signature", "training_datasets", "evaluation_datasets", "parents", "description",
            "tags", "provenance", "stage_changed_at", "created_by", "created_at",
        ]

    def get_training_datasets(self, obj) -> list[str]:
        return obj.lineage_refs[EdgeKind.TRAINED_ON]

    def get_evaluation_datasets(self, obj) -> list[str]:
        return obj.lineage_refs[EdgeKind.EVALUATED_ON]

    def get_parents(self, obj) -> list[str]:
        return obj.lineage_refs[EdgeKind.DERIVED_FROM]

    def to_representation(self, obj) -> dict:
        lineage = obj.lineage_refs
        return {
            "model": obj.model.name,
            "version": obj.version,
            "stage": obj.stage,
            "kind": obj.kind,
            "artifact_sha256": obj.artifact_sha256,
            "artifact_uri": obj.artifact_uri,
            "artifact_format": obj.artifact_format,
            "artifact_size": obj.artifact.size if obj.artifact_id else None,
            "vendor": obj.vendor,
            "framework": obj.framework,
            "framework_version": obj.framework_version,
            "code_repository": obj.code_repository,
            "code_commit": obj.code_commit,
            "hyperparameters": obj.hyperparameters,
            "metrics": obj.metrics,
            "environment": obj.environment,
            "signature": obj.signature,
            "training_datasets": lineage[EdgeKind.TRAINED_ON],
            "evaluation_datasets": lineage[EdgeKind.EVALUATED_ON],
            "parents": lineage[EdgeKind.DERIVED_FROM],
            "description": obj.description,
            "tags": obj.tags,
            "provenance": obj.provenance,
            "stage_changed_at": _datetime(obj.stage_changed_at),
            "created_by": obj.created_by.username if obj.created_by_id else None,
            "created_at": _datetime(obj.created_at),
        }


class DatasetCreateInput(InputSerializer):
    name = serializers.SlugField(max_length=100, help_text=SLUG_HELP)
    team = serializers.SlugField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    contains_personal_data = serializers.BooleanField(required=False, default=False)
    sensitive_attributes = StringListField(required=False)


class DatasetOutput(serializers.ModelSerializer):
    team = serializers.CharField(source="team.name")
    version_count = serializers.IntegerField(source="latest_version", read_only=True)

    class Meta:
        model = Dataset
        fields = [
            "name", "description", "team", "contains_personal_data", "sensitive_attributes",
            "version_count", "created_at", "updated_at",
        ]


class DatasetVersionCreateInput(InputSerializer):
    file = serializers.FileField(required=False, help_text="A CSV or Parquet file.")
    uri = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", required=False, allow_blank=True)
    row_count = serializers.IntegerField(required=False, min_value=0)
    schema = serializers.JSONField(required=False)
    window_start = serializers.DateTimeField(required=False)
    window_end = serializers.DateTimeField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)

    def validate_schema(self, value):
        if isinstance(value, str):
            import json

            try:
                value = json.loads(value)
            except ValueError:
                raise serializers.ValidationError("Must be a JSON list.") from None
        if not isinstance(value, list) or any(not isinstance(c, dict) or "name" not in c for c in value):
            raise serializers.ValidationError('schema must be a list of {"name", "type"} objects.')
        return value


class DatasetVersionOutput(serializers.ModelSerializer):
    dataset = serializers.CharField(source="dataset.name")
    ref = serializers.CharField(read_only=True)
    file_size = serializers.IntegerField(source="file.size", default=None)

    class Meta:
        model = DatasetVersion
        fields = [
            "dataset", "version", "ref", "uri", "sha256", "data_format", "file_size",
            "row_count", "schema", "window_start", "window_end", "description", "created_at",
        ]

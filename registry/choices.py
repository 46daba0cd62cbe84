from django.db import models


class Stage(models.TextChoices):
    DEVELOPMENT = "development", "Development"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"
    ARCHIVED = "archived", "Archived"


class ArtifactFormat(models.TextChoices):
    SKOPS = "skops", "skops"
    ONNX = "onnx", "ONNX"
    XGBOOST = "xgboost", "XGBoost model file (JSON / UBJSON)"


class VersionKind(models.TextChoices):
    ARTIFACT = "artifact", "In-house artifact"
    VENDOR = "vendor", "Vendor / third-party (no artifact)"


class EdgeKind(models.TextChoices):
    TRAINED_ON = "trained_on", "trained on"
    EVALUATED_ON = "evaluated_on", "evaluated on"
    DERIVED_FROM = "derived_from", "derived from"


class DataFormat(models.TextChoices):
    CSV = "csv", "CSV"
    PARQUET = "parquet", "Parquet"
    EXTERNAL = "external", "External URI"

"""Shapes of the governance API: *Input serializers validate, *Output serializers render."""

from __future__ import annotations

from rest_framework import serializers

from common.api import InputSerializer
from governance.models import AuditEvent, TierPolicy


def _username(user) -> str | None:
    return getattr(user, "username", None)


class PolicyInput(InputSerializer):
    tier = serializers.IntegerField(min_value=1, max_value=3)
    rules = serializers.JSONField()
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class PolicyOutput(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = TierPolicy
        fields = ["tier", "version", "is_active", "rules", "notes", "created_by", "created_at"]

    def get_created_by(self, obj) -> str | None:
        return _username(obj.created_by)


class AuditEventOutput(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = AuditEvent
        fields = [
            "seq", "timestamp", "actor", "actor_roles", "action", "object_type", "object_id",
            "object_repr", "model_name", "payload", "request_id", "client_ip", "prev_hash", "hash",
        ]

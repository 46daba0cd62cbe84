from rest_framework import serializers

from openlineage_api.models import RunEvent


class RunEventOutput(serializers.ModelSerializer):
    class Meta:
        model = RunEvent
        fields = ["id", "run_id", "event_type", "event_time", "job_namespace", "job_name",
                  "outcome", "received_at"]

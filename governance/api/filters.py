import django_filters

from governance.models import AuditEvent


class AuditEventFilter(django_filters.FilterSet):
    object_type = django_filters.CharFilter()
    object_id = django_filters.CharFilter()
    model = django_filters.CharFilter(field_name="model_name")
    actor = django_filters.CharFilter(field_name="actor_name")
    action = django_filters.CharFilter(method="filter_action", help_text="Exact, or a prefix ending in '.'")
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lte")

    class Meta:
        model = AuditEvent
        fields = ["object_type", "object_id", "model", "actor", "action", "since", "until"]

    def filter_action(self, qs, name, value):
        if value.endswith("."):
            return qs.filter(action__startswith=value)
        return qs.filter(action=value)

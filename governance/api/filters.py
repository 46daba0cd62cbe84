import django_filters

from governance.choices import FindingStatus, Severity
from governance.models import AuditEvent, Finding


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


class FindingFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model__name")
    version = django_filters.NumberFilter(field_name="version__version")
    status = django_filters.ChoiceFilter(choices=FindingStatus.choices)
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    owner = django_filters.CharFilter(field_name="owner__username")
    blocking = django_filters.BooleanFilter(method="filter_blocking")

    class Meta:
        model = Finding
        fields = ["model", "version", "status", "severity", "owner"]

    def filter_blocking(self, qs, name, value):
        q = dict(status__in=["open", "remediated"], severity__in=["high", "critical"])
        return qs.filter(**q) if value else qs.exclude(**q)

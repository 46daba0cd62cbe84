import django_filters

from oversight.choices import FindingStatus, Severity
from oversight.models import Finding


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

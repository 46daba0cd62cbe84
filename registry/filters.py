import django_filters
from django.db.models import Exists, OuterRef, Q

from registry.choices import Stage
from registry.models import Dataset, ModelVersion, RegisteredModel


class ModelFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="team__name")
    risk_tier = django_filters.CharFilter(method="filter_risk_tier", help_text="1, 2, 3 or 'unassessed'")
    eu_ai_act_class = django_filters.CharFilter()
    stage = django_filters.ChoiceFilter(
        choices=Stage.choices, method="filter_stage", help_text="Has a version in this stage."
    )
    search = django_filters.CharFilter(method="filter_search")
    tag = django_filters.CharFilter(method="filter_tag")
    ordering = django_filters.OrderingFilter(
        fields=("name", "risk_tier", "updated_at", "created_at", "next_review_date")
    )

    class Meta:
        model = RegisteredModel
        fields = ["team", "risk_tier", "eu_ai_act_class", "stage", "search"]

    def filter_risk_tier(self, qs, name, value):
        if value in ("unassessed", "none", ""):
            return qs.filter(risk_tier__isnull=True)
        try:
            return qs.filter(risk_tier=int(value))
        except ValueError:
            return qs.none()

    def filter_stage(self, qs, name, value):
        return qs.filter(Exists(ModelVersion.objects.filter(model=OuterRef("pk"), stage=value)))

    def filter_search(self, qs, name, value):
        return qs.filter(
            Q(name__icontains=value) | Q(title__icontains=value) | Q(description__icontains=value)
        )

    def filter_tag(self, qs, name, value):
        # JSON containment is not portable to SQLite; a quoted substring match on the list is.
        return qs.filter(tags__icontains=f'"{value}"')


class DatasetFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(field_name="team__name")
    search = django_filters.CharFilter(method="filter_search")

    class Meta:
        model = Dataset
        fields = ["team", "contains_personal_data"]

    def filter_search(self, qs, name, value):
        return qs.filter(Q(name__icontains=value) | Q(description__icontains=value))


class VersionFilter(django_filters.FilterSet):
    stage = django_filters.ChoiceFilter(choices=Stage.choices)

    class Meta:
        model = ModelVersion
        fields = ["stage", "kind"]

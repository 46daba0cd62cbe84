"""Tier 1 must show performance evidence before production: an evaluation dataset, performance
metrics (or an outcome analysis) and the code commit. Where the active tier 1 policy does not
ask for them, publish its next version that does (policies are never edited in place)."""

from django.db import migrations
from django.db.models import Max

ADDED = ["evaluation_dataset", "performance_metrics", "code_commit"]


def forwards(apps, schema_editor):
    TierPolicy = apps.get_model("governance", "TierPolicy")
    policy = TierPolicy.objects.filter(tier=1, is_active=True).first()
    if policy is None:
        return
    rules = dict(policy.rules)
    stages = {k: dict(v) for k, v in (rules.get("stages") or {}).items()}
    production = stages.get("production")
    if production is None:
        return
    evidence = list(production.get("evidence") or [])
    missing = [key for key in ADDED if key not in evidence]
    if not missing:
        return
    production["evidence"] = evidence + missing
    rules["stages"] = stages
    last = TierPolicy.objects.filter(tier=1).aggregate(m=Max("version"))["m"]
    TierPolicy.objects.filter(pk=policy.pk).update(is_active=False)
    TierPolicy.objects.create(
        tier=1, version=last + 1, is_active=True, rules=rules,
        notes="Tier 1 production requires performance evidence: " + ", ".join(missing) + ".",
    )


class Migration(migrations.Migration):
    dependencies = [("governance", "0009_move_records_to_oversight")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

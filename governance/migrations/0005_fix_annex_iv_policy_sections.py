"""0004 seeded tier 1 with Annex IV section keys the template does not have. Where that happened,
publish a corrected next version (policies are never edited in place)."""

from django.db import migrations
from django.db.models import Max

WRONG = "development_process"


def forwards(apps, schema_editor):
    from governance.policy import ANNEX_IV_REQUIRED

    TierPolicy = apps.get_model("governance", "TierPolicy")
    for policy in TierPolicy.objects.filter(is_active=True):
        sections = (policy.rules.get("required_document_sections") or {})
        keys = sections.get("eu-ai-act-annex-iv")
        if not keys or WRONG not in keys:
            continue
        rules = dict(policy.rules)
        rules["required_document_sections"] = {**sections, "eu-ai-act-annex-iv": list(ANNEX_IV_REQUIRED)}
        last = TierPolicy.objects.filter(tier=policy.tier).aggregate(m=Max("version"))["m"]
        TierPolicy.objects.filter(pk=policy.pk).update(is_active=False)
        TierPolicy.objects.create(
            tier=policy.tier, version=last + 1, is_active=True, rules=rules,
            notes="Annex IV section keys corrected to match the template.",
        )


class Migration(migrations.Migration):
    dependencies = [("governance", "0004_seed_policies_and_templates")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

"""Seed the default tier policies (version 1 of tiers 1-3) and the documentation templates."""

from django.db import migrations


def seed(apps, schema_editor):
    from governance.doc_templates import SEEDED_TEMPLATES
    from governance.policy import default_rules

    TierPolicy = apps.get_model("governance", "TierPolicy")
    DocumentTemplate = apps.get_model("governance", "DocumentTemplate")
    for tier in (1, 2, 3):
        if not TierPolicy.objects.filter(tier=tier).exists():
            TierPolicy.objects.create(
                tier=tier, version=1, is_active=True, rules=default_rules(tier),
                notes="Seeded default policy.",
            )
    for spec in SEEDED_TEMPLATES:
        if not DocumentTemplate.objects.filter(slug=spec["slug"]).exists():
            DocumentTemplate.objects.create(
                slug=spec["slug"], version=1, title=spec["title"],
                description=spec["description"], sections=spec["sections"], is_active=True,
            )


def unseed(apps, schema_editor):
    apps.get_model("governance", "TierPolicy").objects.filter(version=1, created_by=None).delete()
    apps.get_model("governance", "DocumentTemplate").objects.filter(version=1).delete()


class Migration(migrations.Migration):
    dependencies = [("governance", "0003_governance_records")]
    operations = [migrations.RunPython(seed, unseed)]

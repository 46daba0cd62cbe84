"""RegisteredModel.latest_version: the last number handed out, filled from the versions that exist."""

from django.db import migrations, models

# Portable SQL (PostgreSQL and SQLite): versions are never deleted, so MAX(version) is the count.
FILL = """
UPDATE registry_registeredmodel SET latest_version = COALESCE(
    (SELECT MAX(v.version) FROM registry_modelversion v WHERE v.model_id = registry_registeredmodel.id),
    0
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0002_exclusive_production"),
    ]

    operations = [
        migrations.AddField(
            model_name="registeredmodel",
            name="latest_version",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
    ]

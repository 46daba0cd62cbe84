"""Dataset.latest_version: the last number handed out, filled from the versions that exist."""

from django.db import migrations, models

# Portable SQL (PostgreSQL and SQLite): dataset versions are never deleted, so MAX is the count.
FILL = """
UPDATE registry_dataset SET latest_version = COALESCE(
    (SELECT MAX(v.version) FROM registry_datasetversion v WHERE v.dataset_id = registry_dataset.id),
    0
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0003_model_latest_version"),
    ]

    operations = [
        migrations.AddField(
            model_name="dataset",
            name="latest_version",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
    ]

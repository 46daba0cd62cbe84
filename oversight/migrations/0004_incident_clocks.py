"""Seed the statutory reporting clocks of serious incidents (EU AI Act Art. 73(2)-(4)).

Data, not code: a change of the law (or of a national authority's practice) is a row edit.
"""

from django.db import migrations

CLOCKS = [
    # key, label, days, legal basis, position
    ("serious-harm", "Serious incident (harm to health, property, the environment or "
     "fundamental rights)", 15, "EU AI Act Art. 73(2)", 10),
    ("death", "Death of a person", 10, "EU AI Act Art. 73(4)", 20),
    ("widespread-infringement", "Widespread infringement", 2, "EU AI Act Art. 73(3)", 30),
    ("critical-infrastructure", "Serious and irreversible disruption of critical "
     "infrastructure", 2, "EU AI Act Art. 73(3), Art. 3(49)(b)", 40),
]


def seed(apps, schema_editor):
    IncidentClock = apps.get_model("oversight", "IncidentClock")
    for key, label, days, basis, position in CLOCKS:
        IncidentClock.objects.update_or_create(
            key=key, defaults={"label": label, "days": days, "legal_basis": basis,
                               "position": position},
        )


def unseed(apps, schema_editor):
    IncidentClock = apps.get_model("oversight", "IncidentClock")
    IncidentClock.objects.filter(key__in=[c[0] for c in CLOCKS], incidents__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("oversight", "0003_monitoring_incidents")]

    operations = [migrations.RunPython(seed, unseed)]

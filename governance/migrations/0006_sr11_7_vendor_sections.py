"""Publish the next SR 11-7 template version with two vendor sections (SR 11-7 §VI): the vendor's
own documentation and the validation report of a bought-in model. Templates are never edited in
place: the active version is retired and the next one, with every earlier section, becomes
active. Documents already started keep the template version they were created under."""

from django.db import migrations
from django.db.models import Max

SLUG = "sr11-7"
VENDOR_SECTIONS = [
    {
        "key": "vendor_documentation",
        "title": "Vendor and third-party product",
        "guidance": "For a bought-in model: vendor, product and version, contract or licence "
                    "reference, the vendor's own documentation (attach it), the data the vendor "
                    "discloses, and what the bank cannot see (code, weights, training data).",
        "sources": ["SR 11-7 §VI (vendor and third-party products)", "PRA SS1/23 Principle 2.6"],
        "required": False,
        "prefill": "version.vendor",
    },
    {
        "key": "vendor_validation_report",
        "title": "Vendor validation report",
        "guidance": "Attach the vendor's validation report (or an independent validation of the "
                    "product): developmental evidence, testing results, limitations, and the "
                    "outcomes analysis the vendor performed. Note how its conclusions were "
                    "challenged and what this organisation's own outcome analysis on recorded "
                    "decisions shows.",
        "sources": ["SR 11-7 §VI (vendor and third-party products)", "SR 11-7 §V (outcomes analysis)",
                    "PRA SS1/23 Principle 2.6"],
        "required": False,
        "prefill": "",
    },
]


def forwards(apps, schema_editor):
    DocumentTemplate = apps.get_model("governance", "DocumentTemplate")
    active = DocumentTemplate.objects.filter(slug=SLUG, is_active=True).first()
    if active is None:
        return
    keys = {s["key"] for s in active.sections}
    added = [s for s in VENDOR_SECTIONS if s["key"] not in keys]
    if not added:
        return
    last = DocumentTemplate.objects.filter(slug=SLUG).aggregate(m=Max("version"))["m"]
    DocumentTemplate.objects.filter(pk=active.pk).update(is_active=False)
    DocumentTemplate.objects.create(
        slug=SLUG, version=last + 1, title=active.title, description=active.description,
        sections=[*active.sections, *added], is_active=True,
    )


def backwards(apps, schema_editor):
    DocumentTemplate = apps.get_model("governance", "DocumentTemplate")
    newest = DocumentTemplate.objects.filter(slug=SLUG).order_by("-version").first()
    if newest is None or newest.version == 1 or newest.documents.exists():
        return
    if {s["key"] for s in VENDOR_SECTIONS} - {s["key"] for s in newest.sections}:
        return
    newest.delete()
    DocumentTemplate.objects.filter(slug=SLUG).order_by("-version").filter(
        pk=DocumentTemplate.objects.filter(slug=SLUG).order_by("-version").first().pk
    ).update(is_active=True)


class Migration(migrations.Migration):
    dependencies = [("governance", "0005_fix_annex_iv_policy_sections")]
    operations = [migrations.RunPython(forwards, backwards)]

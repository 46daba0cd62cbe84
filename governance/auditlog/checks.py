"""`manage.py check` (and start-up) names a signing key that cannot be loaded, instead of the
first seal failing in a beat worker's log; `check --deploy` warns about the development key."""

from __future__ import annotations

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register(checks.Tags.security)
def audit_signing_key(app_configs, **kwargs):
    from django.conf import settings

    from governance.auditlog import signing

    if not (settings.AUDIT_SIGNING_KEY or settings.AUDIT_SIGNING_KEY_FILE):
        return []
    signing.private_key.cache_clear()
    try:
        signing.private_key()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="gatehouse.E101")]
    return []


@checks.register(checks.Tags.security, deploy=True)
def audit_signing_key_deploy(app_configs, **kwargs):
    from django.conf import settings

    if settings.AUDIT_SIGNING_KEY or settings.AUDIT_SIGNING_KEY_FILE:
        return []
    return [checks.Warning(
        "The audit log is signed with the embedded development key (var/audit-signing-key.pem).",
        hint="Set AUDIT_SIGNING_KEY_FILE to a key made by `manage.py generate_audit_key`.",
        id="gatehouse.W101")]

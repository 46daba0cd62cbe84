"""Start-up checks: `manage.py check` (and so migrate/runserver) refuses an artifact bucket that
does not exist or cannot be reached, with the sentence check_configuration() gives."""

from __future__ import annotations

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from common import artifact_store


@checks.register("artifact_storage")
def artifact_storage_reachable(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    try:
        artifact_store.check_configuration()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="gatehouse.E001")]
    return []

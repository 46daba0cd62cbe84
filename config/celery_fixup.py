"""Celery's Django fix-up, with the system checks a worker needs instead of all of them.

Celery's own fix-up (`celery.fixups.django`) calls `django.setup()` and then `run_checks()` when a
worker (or beat) imports its task modules, and discards what the checks find: a worker with a
broken audit signing key or an unreachable artifact bucket started and took jobs. Running every
check also cost each worker ~6 MB it never uses: the URL checks import the URLconf and with it
every view, serializer and OpenAPI module, and the template checks every template tag library.

This fix-up (installed by `Celery(fixups=[...])` in config/celery.py, the documented way to choose
an app's fix-ups) keeps everything else of Celery's (database connections closed around tasks,
the task class, the clock) and runs every registered check except those about what only a web
process serves or only `manage.py` runs: the worker refuses to start on an error (the
sentence `manage.py check` prints), logs the warnings, and loads none of the web's code. `celery
--skip-checks` (or SKIP_CHECKS=1) still skips them all, as Celery documents.
"""

from __future__ import annotations

import logging
import os

from celery.fixups.django import DjangoFixup, DjangoWorkerFixup

logger = logging.getLogger(__name__)

#: Check tags of the web process and of management commands: URLs (which import every view),
#: templates (every tag library), static files, the admin site, and the migration commands.
WEB_ONLY_TAGS = frozenset({"urls", "templates", "staticfiles", "admin", "commands"})
#: Modules whose checks are about the API only: DRF's (its pagination settings; resolving the
#: pagination class imports DRF's serializers, and with them requests, markdown and pygments).
WEB_ONLY_CHECK_MODULES = frozenset({"rest_framework.checks"})


def worker_checks() -> list:
    """The registered checks a worker runs: every one not tagged WEB_ONLY_TAGS nor defined in
    WEB_ONLY_CHECK_MODULES (untagged ones included, as `manage.py check` includes them)."""
    from django.core.checks.registry import registry

    return [check for check in registry.get_checks(include_deployment_checks=False)
            if WEB_ONLY_TAGS.isdisjoint(check.tags)
            and check.__module__ not in WEB_ONLY_CHECK_MODULES]


def run_worker_checks() -> None:
    """Run worker_checks(); raise SystemCheckError (what `manage.py check` raises) on an error
    that SILENCED_SYSTEM_CHECKS does not silence, and log each warning."""
    from django.core.management.base import SystemCheckError

    messages = []
    for check in worker_checks():
        messages.extend(check(app_configs=None, databases=None))
    messages = [m for m in messages if not m.is_silenced()]
    errors = [m for m in messages if m.is_serious()]
    for warning in (m for m in messages if not m.is_serious()):
        logger.warning("%s", warning)
    if errors:
        raise SystemCheckError(
            "The worker's system checks found errors:\n"
            + "\n".join(str(error) for error in errors)
        )


class GatehouseWorkerFixup(DjangoWorkerFixup):
    def validate_models(self) -> None:
        # Called at `import_modules` (and again in each pool child started by execv), whose
        # sender re-raises a receiver's exception: an error stops the worker before it consumes.
        self.django_setup()
        if not os.environ.get("CELERY_SKIP_CHECKS"):
            run_worker_checks()


class GatehouseFixup(DjangoFixup):
    def _get_worker_fixup(self) -> DjangoWorkerFixup:
        if self._worker_fixup is None:
            self._worker_fixup = GatehouseWorkerFixup(self.app)
        return self._worker_fixup

    worker_fixup = property(_get_worker_fixup, DjangoFixup.worker_fixup.fset)


def fixup(app) -> GatehouseFixup:
    """The fix-up entry point Celery calls with the app (like `celery.fixups.django:fixup`)."""
    return GatehouseFixup(app).install()

"""The Celery app: Gatehouse's distributed engine (explainability jobs, webhooks, reviews)."""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Celery's Django fix-up with the worker's own selection of system checks (config/celery_fixup.py).
app = Celery("gatehouse", fixups=["config.celery_fixup:fixup"])
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _ensure_embedded_broker_dirs() -> None:
    """kombu's filesystem transport needs its folders to exist before the first message."""
    from django.conf import settings

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
            os.makedirs(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key], exist_ok=True)
    if settings.CELERY_RESULT_BACKEND.startswith("file://"):
        os.makedirs(settings.CELERY_RESULT_BACKEND[len("file://") :], exist_ok=True)


app.on_after_configure.connect(lambda sender, **kw: _ensure_embedded_broker_dirs())


@worker_init.connect
def _preload_job_code(**kwargs) -> None:
    """WORKER_PRELOAD_JOBS: the job libraries and numba kernels loaded here, in the parent, so
    every pool process (and every replacement of one) is forked with them (explainability.preload)
    instead of spending its first job loading them, and shares their pages."""
    from django.conf import settings

    if settings.WORKER_PRELOAD_JOBS:
        from explainability.preload import preload_worker

        preload_worker()


@worker_init.connect
def _share_pages_with_the_pool(**kwargs) -> None:
    """Prefork children start as copies of this process: objects frozen here are never touched by
    the children's garbage collector, so their memory pages stay shared (copy-on-write)."""
    import gc

    gc.collect()
    gc.freeze()

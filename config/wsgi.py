import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# A web process that could not store a single upload must not start: fail with the reason.
from common.artifact_store import check_configuration  # noqa: E402

check_configuration()

# Load the URLconf (and with it every view, serializer and schema module) now rather than on
# each worker's first request: with `--preload` the workers are forked ready to answer, instead
# of each spending its first request (~0.5 s) importing the API.
from django.urls import get_resolver  # noqa: E402

get_resolver().resolve("/")

# With single sign-on every worker verifies JWTs: load PyJWT and `cryptography` (imported lazily,
# by the functions that need them, so that a deployment without it never holds them) here, once,
# for the workers to share.
from django.conf import settings  # noqa: E402

if settings.OIDC_ISSUER:
    import jwt  # noqa: E402, F401
    from django.contrib.auth import get_backends  # noqa: E402

    get_backends()

# With `gunicorn --preload` (what the README advises once a web machine runs more than one
# process) this module is imported once, in the master, and the workers are forked from it:
# objects frozen here are never scanned by the workers' garbage collector, so the pages holding
# them stay shared instead of being copied into every worker. In a single threaded process it
# spares the collector the same scans.
import gc  # noqa: E402

gc.collect()
gc.freeze()

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# A web process that could not store a single upload must not start: fail with the reason.
from common.artifact_store import check_configuration  # noqa: E402

check_configuration()

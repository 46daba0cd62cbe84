"""Gatehouse settings. Every value comes from the environment, with safe embedded defaults.

Embedded default: SQLite under var/ and a Celery broker on kombu's filesystem transport.
Production: DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis), DEBUG=0 and a real SECRET_KEY.
"""

import datetime as dt
import json
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GATEHOUSE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEV_SECRET_KEY = "gatehouse-dev-only-insecure-key"
DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY") or DEV_SECRET_KEY  # empty counts as unset
if not DEBUG and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set to a private value when DEBUG is off.")

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]


def _proxy_ssl_header(raw: str) -> tuple[str, str] | None:
    """`X-Forwarded-Proto,https` -> ("HTTP_X_FORWARDED_PROTO", "https"); empty -> None."""
    if not raw.strip():
        return None
    name, sep, value = raw.partition(",")
    if not sep or not name.strip() or not value.strip():
        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER must look like 'X-Forwarded-Proto,https' (header, value)."
        )
    name = name.strip().upper().replace("-", "_")
    return (name if name.startswith("HTTP_") else f"HTTP_{name}", value.strip())


# Hardened defaults: on whenever DEBUG is off (each can still be set from the environment), so
# `manage.py check --deploy` is clean with the production variables of the README.
SECURE_PROXY_SSL_HEADER = _proxy_ssl_header(os.environ.get("SECURE_PROXY_SSL_HEADER", ""))
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
# The portal sends the CSRF token from the page (htmx's hx-headers), never reads the cookie.
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files served from here: /api/docs/ works offline
    "django_htmx",
    "csp",
    "axes",
    "common",
    "governance",
    "registry",
    "explainability",
    "oversight",
    "approvals",
    "mlflow_api",
    "portal",
    "demo",
    "openlineage_api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "common.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "common.middleware.UserTimezoneMiddleware",
    # Last: turns a sign-in refused by the throttle into the lock-out page (or JSON).
    "axes.middleware.AxesMiddleware",
]

# Content Security Policy (django-csp), on in every mode so development and the browser tests see
# what production enforces: the portal loads scripts and styles from its own static files only
# (no inline <script>, no on*= handlers, no style="" attributes, no javascript: links).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
if os.environ.get("CSP_REPORT_URI"):
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = [os.environ["CSP_REPORT_URI"]]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "approvals.views.nav_counts",  # unread notifications in the portal's nav
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'gatehouse.sqlite3'}"),
        # Persistent connections by default: opening one per request cost more than the request
        # itself (registration measured 0.79x MLflow's server with 0 s, 1.65x with 60 s). The
        # health check re-opens a connection the database dropped instead of failing a request.
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=env_bool("DB_CONN_HEALTH_CHECKS", True),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a health check that polls the idle socket before paying a round
    # trip for `SELECT 1` (common/db/postgresql/base.py says why that is as safe).
    DATABASES["default"]["ENGINE"] = "common.db.postgresql"
# The token lookup and the hot registration and read statements are prepared once per
# connection; 0 behind a pooler that cannot keep prepared statements (PgBouncer < 1.21 in
# transaction mode).
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock at BEGIN, so two writers queue instead of one
    # failing with "database is locked" halfway through (the audit chain relies on this).
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 30}
    # A file (not :memory:) so that threads and a real worker process share the test database.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("SQLITE_TEST_NAME") or str(VAR_DIR / f"test-{os.getpid()}.sqlite3")
    }

def env_json(name: str, default):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be JSON: {exc}.") from exc


AUTH_USER_MODEL = "governance.User"

# Single sign-on (OpenID Connect, authorization code flow with PKCE; governance/oidc/). On when
# OIDC_ISSUER is set. Endpoints are discovered from the issuer unless given explicitly.
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").strip()
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
OIDC_RP_SCOPES = os.environ.get("OIDC_SCOPES", "openid email profile")
OIDC_ENDPOINTS = {
    key: os.environ[var]
    for key, var in [
        ("authorization_endpoint", "OIDC_AUTHORIZATION_ENDPOINT"),
        ("token_endpoint", "OIDC_TOKEN_ENDPOINT"),
        ("userinfo_endpoint", "OIDC_USERINFO_ENDPOINT"),
        ("jwks_uri", "OIDC_JWKS_URI"),
    ]
    if os.environ.get(var)
}
OIDC_SIGN_ALGORITHMS = [
    a.strip() for a in os.environ.get("OIDC_SIGN_ALGORITHMS", "RS256").split(",") if a.strip()
]
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_USE_NONCE = True
OIDC_TIMEOUT = float(os.environ.get("OIDC_TIMEOUT", "10"))
OIDC_CLOCK_SKEW_SECONDS = int(os.environ.get("OIDC_CLOCK_SKEW_SECONDS", "30"))
OIDC_DISCOVERY_CACHE_SECONDS = int(os.environ.get("OIDC_DISCOVERY_CACHE_SECONDS", "3600"))
OIDC_JWKS_CACHE_SECONDS = int(os.environ.get("OIDC_JWKS_CACHE_SECONDS", "300"))
OIDC_JWKS_MIN_REFRESH_SECONDS = int(os.environ.get("OIDC_JWKS_MIN_REFRESH_SECONDS", "30"))
# Claims -> roles and teams: {"claim value": "gatehouse role"}, {"group": "team slug"}.
OIDC_USERNAME_CLAIM = os.environ.get("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_ROLE_CLAIM = os.environ.get("OIDC_ROLE_CLAIM", "roles")
OIDC_ROLE_MAP = env_json("OIDC_ROLE_MAP", {})
OIDC_TEAM_CLAIM = os.environ.get("OIDC_TEAM_CLAIM", "groups")
OIDC_TEAM_MAP = env_json("OIDC_TEAM_MAP", {})
# API: OIDC access tokens (JWT) for this audience; the subject claim maps to a linked user.
OIDC_API_AUDIENCE = os.environ.get("OIDC_API_AUDIENCE", OIDC_RP_CLIENT_ID)
OIDC_API_SUBJECT_CLAIM = os.environ.get("OIDC_API_SUBJECT_CLAIM", "sub")
# LOCAL_LOGIN=0: no password sign-in anywhere (portal, admin, MLflow basic auth); SSO only.
LOCAL_LOGIN = env_bool("LOCAL_LOGIN", True)
AUTHENTICATION_BACKENDS = [
    # First: refuses any sign-in (password or SSO) while its user or address is locked out.
    "axes.backends.AxesStandaloneBackend",
    *(["django.contrib.auth.backends.ModelBackend"] if LOCAL_LOGIN else []),
    "governance.oidc.backend.OIDCBackend",
]
if not LOCAL_LOGIN and not OIDC_ISSUER:
    raise ImproperlyConfigured("LOCAL_LOGIN=0 needs single sign-on: set OIDC_ISSUER too.")

# Login throttling (django-axes): LOGIN_FAILURE_LIMIT failed sign-ins for a username, or from an
# address, lock it for LOGIN_LOCKOUT_MINUTES (each further failure restarts the wait).
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = dt.timedelta(minutes=float(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = False  # else signing in to one account would clear an address's count
# Proxies in front of Gatehouse that append to X-Forwarded-For (0: the peer address is the client).
TRUSTED_PROXY_HOPS = int(os.environ.get("TRUSTED_PROXY_HOPS", "0"))
AXES_CLIENT_IP_CALLABLE = "governance.throttle.client_ip"
AXES_LOCKOUT_CALLABLE = "governance.throttle.lockout_response"
AXES_VERBOSE = False
# Unlocking goes through `manage.py login_unlock` (audited); the axes admin's deletes are not.
AXES_ENABLE_ADMIN = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
# The portal's own assets, and front-end packages installed by `npm ci` (never a CDN): only the
# files the pages load are exposed, under a "vendor/" prefix.
STATICFILES_DIRS = [
    entry
    for entry in [
        BASE_DIR / "static",
        ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    ]
    if (entry[1] if isinstance(entry, tuple) else entry).exists()
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Artifacts (models, dataset files, document attachments, job outputs) are stored under their
# sha256 through common.artifact_store: in a local folder (ARTIFACT_STORAGE=local, the embedded
# default) or an S3-compatible bucket (ARTIFACT_STORAGE=s3), where ARTIFACT_ROOT is only this
# machine's staging folder and read cache (bounded by ARTIFACT_CACHE_MAX_BYTES).
ARTIFACT_STORAGE = os.environ.get("ARTIFACT_STORAGE", "local").strip().lower()
if ARTIFACT_STORAGE not in {"local", "s3"}:
    raise ImproperlyConfigured(f"ARTIFACT_STORAGE must be 'local' or 's3', not {ARTIFACT_STORAGE!r}.")
ARTIFACT_ROOT = Path(os.environ.get("ARTIFACT_ROOT", VAR_DIR / "artifacts"))
ARTIFACT_CACHE_MAX_BYTES = int(os.environ.get("ARTIFACT_CACHE_MAX_BYTES", str(5 * 1024**3)))
# Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) or, when
# unset, from the machine's role (boto3's default chain).
ARTIFACT_S3 = {
    "bucket": os.environ.get("ARTIFACT_S3_BUCKET", ""),
    "endpoint_url": os.environ.get("ARTIFACT_S3_ENDPOINT_URL", ""),
    "region": os.environ.get("ARTIFACT_S3_REGION", ""),
    "prefix": os.environ.get("ARTIFACT_S3_PREFIX", ""),
    "connect_timeout": os.environ.get("ARTIFACT_S3_CONNECT_TIMEOUT", "5"),
    "read_timeout": os.environ.get("ARTIFACT_S3_READ_TIMEOUT", "60"),
    "max_attempts": os.environ.get("ARTIFACT_S3_MAX_ATTEMPTS", "3"),
}
if ARTIFACT_STORAGE == "s3" and not ARTIFACT_S3["bucket"]:
    raise ImproperlyConfigured("ARTIFACT_STORAGE=s3 needs ARTIFACT_S3_BUCKET.")
MAX_ARTIFACT_BYTES = int(os.environ.get("MAX_ARTIFACT_BYTES", str(500 * 1024 * 1024)))
def _document_kinds() -> list[str]:
    from common.filetypes import DOCUMENT_KINDS  # pure data: no Django needed to import it

    return list(DOCUMENT_KINDS)


# The kinds of file a document may have attached, judged by content (common.filetypes), never by
# name: comma-separated names from pdf, png, jpeg, gif, webp, csv, text, docx, xlsx, pptx, doc, xls.
DOCUMENT_ATTACHMENT_TYPES = [
    t.strip().lower() for t in os.environ.get(
        "DOCUMENT_ATTACHMENT_TYPES", "pdf,png,jpeg,gif,webp,csv,text,docx,xlsx,pptx,doc,xls"
    ).split(",") if t.strip()
]
_unknown_types = sorted(set(DOCUMENT_ATTACHMENT_TYPES) - set(_document_kinds()))
if _unknown_types:
    raise ImproperlyConfigured(
        f"DOCUMENT_ATTACHMENT_TYPES names unknown type(s) {', '.join(_unknown_types)}; known: "
        f"{', '.join(_document_kinds())}."
    )
# A request body (other than uploaded files) larger than this is refused with a JSON 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(10 * 1024 * 1024)))
# Caps on API input (common.api.InputSerializer): text fields declared without their own
# max_length, and JSON values (hyperparameters, metrics, ...) once encoded.
API_TEXT_MAX_LENGTH = int(os.environ.get("API_TEXT_MAX_LENGTH", "100000"))
API_JSON_MAX_BYTES = int(os.environ.get("API_JSON_MAX_BYTES", str(1024 * 1024)))
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Uploaded files are hashed while they stream to a staging file (never held in memory).
FILE_UPLOAD_HANDLERS = ["common.uploads.HashingUploadHandler"]
JOB_OUTPUT_ROOT = Path(os.environ.get("JOB_OUTPUT_ROOT", VAR_DIR / "job-output"))

# Schemes an external artifact_uri / dataset uri may use (registry.uris). The artifact storage's
# own locations are added to these (file: inside ARTIFACT_ROOT, or s3: with object storage);
# runs:, models: and mlflow-artifacts: are MLflow's references, resolved by an MLflow client;
# mlflow-dataset: names an MLflow dataset record the importer could not reach (no location).
ALLOWED_URI_SCHEMES = [
    s.strip().lower()
    for s in os.environ.get(
        "ALLOWED_URI_SCHEMES", "s3,gs,abfss,https,dbfs,models,runs,mlflow-artifacts,mlflow-dataset"
    ).split(",")
    if s.strip()
]

# Types a .skops artifact may contain. Anything else fails the load, naming the type.
TRUSTED_SKOPS_TYPE_PREFIXES = [
    p.strip()
    for p in os.environ.get(
        "TRUSTED_SKOPS_TYPE_PREFIXES",
        "sklearn.,lightgbm.,xgboost.,numpy.,scipy.,collections.OrderedDict,collections.defaultdict",
    ).split(",")
    if p.strip()
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "governance.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Signed in, and auditors read everything and change nothing: every API view's rule unless
    # it names its own (the MLflow adapter checks roles itself, before input).
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "governance.api_permissions.ReadOnlyForAuditors",
    ],
    "DEFAULT_PAGINATION_CLASS": "common.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "common.schema.GatehouseAutoSchema",
    "EXCEPTION_HANDLER": "common.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gatehouse API",
    "DESCRIPTION": "Model governance and registry: inventory, lineage, evidence and approvals.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["common.schema.only_gatehouse_api"],
    # Request bodies get components of their own, so what a field refuses on input (a blank
    # string, null, a read-only field) is in the schema a client or a fuzzer reads.
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "common.schema.document_errors_and_examples",
    ],
    # Choice sets that share a field name get names of their own (the schema check warns otherwise).
    "ENUM_NAME_OVERRIDES": {
        "JobKindEnum": "explainability.choices.JobKind",
        "VersionKindEnum": "registry.choices.VersionKind",
        "EdgeKindEnum": "registry.choices.EdgeKind",
        "JobStatusEnum": "explainability.choices.JobStatus",
        "FindingStatusEnum": "oversight.choices.FindingStatus",
        "ExceptionDecisionEnum": "approvals.choices.EXCEPTION_DECISIONS",
        "DecisionKindEnum": "approvals.choices.DecisionKind",
        "IncidentStatusEnum": "oversight.choices.IncidentStatus",
    },
    # Swagger UI / ReDoc from the drf-spectacular-sidecar package (static files), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery: the distributed engine. Filesystem transport by default, Redis in production.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
BROKER_DIR = Path(os.environ.get("CELERY_FILESYSTEM_ROOT", VAR_DIR / "broker"))
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Broadcast/control messages (worker pings, remote control) default to ./control.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    _default_backend = f"file://{VAR_DIR / 'celery-results'}"
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    _default_backend = CELERY_BROKER_URL
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", _default_backend)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("JOB_SOFT_TIME_LIMIT", "1800"))
CELERY_TASK_TIME_LIMIT = int(os.environ.get("JOB_HARD_TIME_LIMIT", "1900"))
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BEAT_SCHEDULE: dict = {}
JOB_MAX_ATTEMPTS = int(os.environ.get("JOB_MAX_ATTEMPTS", "3"))

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "gatehouse@localhost")
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Explainability jobs (explainability app). A running job's worker stamps a heartbeat every
# JOB_HEARTBEAT_SECONDS; one silent for JOB_STALE_AFTER seconds is presumed lost and may be claimed
# again by any worker (at most JOB_MAX_ATTEMPTS attempts): beat's sweep runs every quarter of it,
# so a job lost with a killed worker runs again within about a minute. Transient errors retry after
# JOB_RETRY_BACKOFF_SECONDS * 2**(attempt-1). Big SHAP / fairness jobs split into chunks.
JOB_HEARTBEAT_SECONDS = float(os.environ.get("JOB_HEARTBEAT_SECONDS", "10"))
JOB_STALE_AFTER = float(os.environ.get("JOB_STALE_AFTER", "45"))
JOB_REQUEUE_QUEUED_AFTER = float(os.environ.get("JOB_REQUEUE_QUEUED_AFTER", "3600"))
JOB_RETRY_BACKOFF_SECONDS = float(os.environ.get("JOB_RETRY_BACKOFF_SECONDS", "5"))
JOB_SHAP_CHUNK_ROWS = int(os.environ.get("JOB_SHAP_CHUNK_ROWS", "2000"))
# A worker imports the job code (pandas, scikit-learn, shap, skops, matplotlib) when it starts,
# before its pool forks, instead of in the first job each pool process runs: a fresh worker's
# first chunk then costs about what any chunk costs (~2 s of imports less), and the pool's
# processes share those pages. Off by default: an idle worker holds ~270 MB more.
WORKER_PRELOAD_JOBS = env_bool("WORKER_PRELOAD_JOBS", False)
JOB_FAIRNESS_CHUNK_ROWS = int(os.environ.get("JOB_FAIRNESS_CHUNK_ROWS", "250000"))
DRIFT_SCHEDULE_ENABLED = env_bool("DRIFT_SCHEDULE_ENABLED", True)
# Webhook endpoints are re-read at most this often per process (approvals.webhooks): a change
# made in another process reaches this one within that time.
WEBHOOK_ENDPOINTS_CACHE_SECONDS = float(os.environ.get("WEBHOOK_ENDPOINTS_CACHE_SECONDS", "5"))
DRIFT_SCHEDULE_CRON = os.environ.get("DRIFT_SCHEDULE_CRON", "0 3 * * *")  # m h dom mon dow


def _crontab(expr: str):
    from celery.schedules import crontab

    minute, hour, day_of_month, month_of_year, day_of_week = expr.split()
    return crontab(minute=minute, hour=hour, day_of_month=day_of_month,
                   month_of_year=month_of_year, day_of_week=day_of_week)


CELERY_BEAT_SCHEDULE["explainability-recover-lost-jobs"] = {
    "task": "explainability.tasks.recover_lost_jobs",
    "schedule": max(JOB_STALE_AFTER / 4, 5.0),
}
if DRIFT_SCHEDULE_ENABLED:
    CELERY_BEAT_SCHEDULE["explainability-scheduled-drift"] = {
        "task": "explainability.tasks.scheduled_drift_checks",
        "schedule": _crontab(DRIFT_SCHEDULE_CRON),
    }

# Oversight: flag models whose periodic review is overdue and notify their owners (daily).
REVIEW_OVERDUE_CRON = os.environ.get("REVIEW_OVERDUE_CRON", "30 6 * * *")  # m h dom mon dow
CELERY_BEAT_SCHEDULE["oversight-mark-overdue-reviews"] = {
    "task": "oversight.tasks.mark_overdue_reviews",
    "schedule": _crontab(REVIEW_OVERDUE_CRON),
}

# OpenLineage ingest: the dataset/output facet in which a pipeline tells Gatehouse which model
# version an output is ({"model": NAME, "version": N} or {"artifactSha256": SHA}) and what an
# input is to it ({"role": "training" | "evaluation"}).
OPENLINEAGE_FACET = os.environ.get("OPENLINEAGE_FACET", "gatehouse")

# Audit log (governance.auditlog): a beat task seals committed events into a signed Merkle
# checkpoint every AUDIT_SEAL_INTERVAL seconds (at most AUDIT_SEAL_MAX_EVENTS per checkpoint). A
# position left empty by a rolled-back transaction is recorded as aborted once the next event is
# AUDIT_HOLE_WAIT seconds old (see governance/auditlog/sealer.py). The Ed25519 signing key:
# AUDIT_SIGNING_KEY (PEM or base64 seed) or AUDIT_SIGNING_KEY_FILE (`manage.py
# generate_audit_key`); without either, var/audit-signing-key.pem is created (development only).
AUDIT_SEAL_INTERVAL = float(os.environ.get("AUDIT_SEAL_INTERVAL", "5"))
AUDIT_SEAL_MAX_EVENTS = int(os.environ.get("AUDIT_SEAL_MAX_EVENTS", "1000000"))
AUDIT_HOLE_WAIT = float(os.environ.get("AUDIT_HOLE_WAIT", "30"))
AUDIT_SIGNING_KEY = os.environ.get("AUDIT_SIGNING_KEY", "")
AUDIT_SIGNING_KEY_FILE = os.environ.get("AUDIT_SIGNING_KEY_FILE", "")
CELERY_BEAT_SCHEDULE["governance-seal-audit-log"] = {
    "task": "governance.tasks.seal_audit_log",
    "schedule": AUDIT_SEAL_INTERVAL,
}

# MLflow-compatible registry (mlflow_api): aliases that always follow the production version and
# that the MLflow API never moves (asking for one opens a promotion request instead).
MLFLOW_PROTECTED_ALIASES = [
    a.strip()
    for a in os.environ.get("MLFLOW_PROTECTED_ALIASES", "champion,production").split(",")
    if a.strip()
]

# Approvals: expire requests past their deadlines and revoke approvals whose conditions lapsed.
PROMOTION_HOUSEKEEPING_MINUTES = int(os.environ.get("PROMOTION_HOUSEKEEPING_MINUTES", "15"))
CELERY_BEAT_SCHEDULE["approvals-expire-promotions"] = {
    "task": "approvals.tasks.expire_promotions",
    "schedule": PROMOTION_HOUSEKEEPING_MINUTES * 60.0,
}
CELERY_BEAT_SCHEDULE["approvals-enforce-conditions"] = {
    "task": "approvals.tasks.enforce_conditions",
    "schedule": PROMOTION_HOUSEKEEPING_MINUTES * 60.0,
}
# Policy exceptions: notify owners 7 days before expiry (once) and mark expired ones.
CELERY_BEAT_SCHEDULE["approvals-sweep-exceptions"] = {
    "task": "approvals.tasks.sweep_exceptions",
    "schedule": PROMOTION_HOUSEKEEPING_MINUTES * 60.0,
}

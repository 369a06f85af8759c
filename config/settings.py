"""Relink settings: one environ.Env; embedded defaults for local runs, secrets required in production."""

import hashlib
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = BASE_DIR / ".run"

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(str(BASE_DIR / ".env"))

# pytest sets PYTEST_VERSION for the whole run; tests get the embedded defaults.
TESTING = bool(env.str("PYTEST_VERSION", default=""))
DEBUG = env.bool("DEBUG", default=False)
EMBEDDED = DEBUG or TESTING


def _secret(name: str, dev_default: str) -> str:
    value = env.str(name, default="")
    if value:
        return value
    if EMBEDDED:
        return dev_default
    raise ImproperlyConfigured(f"{name} is required when DEBUG is off. See README.md, 'Configuration'.")


SECRET_KEY = _secret("SECRET_KEY", "dev-insecure-secret-key-only-for-local-runs-and-tests-0123456789")
# Comma-separated Fernet keys; the first encrypts, all decrypt (rotation).
FERNET_KEYS = [
    k.strip()
    for k in _secret("FERNET_KEYS", "kP2v0oWb8b9Sg2TqjJm0o7y3a0z8u1w5Hk3t5aB1c9E=").split(",")
    if k.strip()
]


def _check_fernet_keys(keys: list[str]) -> None:
    """A bad key would only show on the first encrypt/decrypt; say so at start-up instead."""
    import base64
    import binascii

    if not keys:
        raise ImproperlyConfigured("FERNET_KEYS is empty: give at least one Fernet key.")
    for n, key in enumerate(keys, start=1):
        try:
            valid = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise ImproperlyConfigured(
                f"FERNET_KEYS entry {n} is not a Fernet key (32 url-safe base64-encoded bytes). "
                'Make one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
            )


_check_fernet_keys(FERNET_KEYS)
# Keyed hash for API keys, account tokens, link tokens: lookups by HMAC, never by the raw token.
TOKEN_HASH_KEY = env.str("TOKEN_HASH_KEY", default=SECRET_KEY)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"] if EMBEDDED else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# `make run`'s port: the local default of the public base URL.
PORT = env.int("PORT", default=8000)
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default=f"http://127.0.0.1:{PORT}").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "csp",
    "accounts",
    "issues",
    "syncs",
    "linking",
]

MIDDLEWARE = [
    # /healthz, /readyz and /metrics are answered first: no host check (load balancers probe by
    # address), no HTTPS redirect, no session, no rate limit.
    "config.middleware.OpsEndpointsMiddleware",
    "config.logging.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # config.page_middleware: the library's middleware, passing JSON API requests (/api/) on
    # untouched (they use no session, user, message or htmx) and giving them the
    # default Content-Security-Policy built once.
    "config.page_middleware.CSPMiddleware",
    "accounts.middleware.ApiBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.page_middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.page_middleware.AuthenticationMiddleware",
    "config.page_middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.page_middleware.HtmxMiddleware",
]

# Content-Security-Policy on every response (django-csp): scripts, styles and everything else
# from this origin only, no inline script or style (every template uses static files), no
# framing. The link page replaces frame-ancestors with its organization's embedding origins
# (linking.views_public); the API reference page allows what Redoc needs (config.urls).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False

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
                "accounts.dashboard.navigation",
            ],
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # Web, worker and beat share the file: wait for locks, take the write lock up front.
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so that a real worker process in the tests sees the same data.
    # Per process, so that two test runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(RUN_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0 if TESTING else 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["accounts.auth_backends.ThrottledModelBackend"]
if TESTING:
    # Hashing a password costs ~0.3 s of CPU on purpose; the tests log in hundreds of times and the
    # login-throttle tests count failures inside a window of a few seconds.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if EMBEDDED
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.authentication.HasApiKey"],
    # DRF's JSONRenderer, written by orjson (config/renderers.py).
    "DEFAULT_RENDERER_CLASSES": ["config.renderers.ApiJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # JSON without parsing the common Accept headers (config/negotiation.py).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.negotiation.ApiContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "accounts.api.exception_handler",
    # Per API key and per account token, in Redis (accounts/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.ApiRateThrottle"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Relink API",
    "DESCRIPTION": "Linked-account API, wire-compatible with Merge's (api.merge.dev).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/[a-z]+/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # One name per choice set (the same choices appear in several serializers).
    "ENUM_NAME_OVERRIDES": {
        "CategoryEnum": "accounts.models.Category",
        "LinkedAccountStatusEnum": "accounts.models.LinkedAccountStatus",
    },
}

# How long a web process trusts an API key it has checked (0: ask the database every request).
# A revoked key stops working within this many seconds.
API_KEY_CACHE_SECONDS = env.float("API_KEY_CACHE_SECONDS", default=5.0)

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# API rate limits (accounts/throttling.py): requests per window, per linked account (Merge's
# 600 a minute) and per API key. Redis unreachable: requests are served (fail open).
RATE_LIMIT_ENABLED = env.bool("RATE_LIMIT_ENABLED", default=True)
RATE_LIMIT_WINDOW_SECONDS = env.int("RATE_LIMIT_WINDOW_SECONDS", default=60)
RATE_LIMIT_ACCOUNT_REQUESTS = env.int("RATE_LIMIT_ACCOUNT_REQUESTS", default=600)
RATE_LIMIT_KEY_REQUESTS = env.int("RATE_LIMIT_KEY_REQUESTS", default=6000)
RATE_LIMIT_REDIS_URL = env.str("RATE_LIMIT_REDIS_URL", default="")
RATE_LIMIT_REDIS_TIMEOUT_SECONDS = env.float("RATE_LIMIT_REDIS_TIMEOUT_SECONDS", default=0.25)
# Logins, dashboard and admin alike (accounts/auth_backends.py): failures per username+IP, per
# username from any address, and per IP.
LOGIN_FAILURES_PER_USER_IP = env.int("LOGIN_FAILURES_PER_USER_IP", default=5)
LOGIN_FAILURES_PER_USER = env.int("LOGIN_FAILURES_PER_USER", default=20)
LOGIN_FAILURES_PER_IP = env.int("LOGIN_FAILURES_PER_IP", default=50)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)
# Credential checks from the link page and the sandbox public-token endpoint (linking/attempt_limits.py):
# each one calls the provider, so they are capped per link token and per client address.
LINK_ATTEMPTS_PER_TOKEN = env.int("LINK_ATTEMPTS_PER_TOKEN", default=10)
LINK_ATTEMPTS_PER_IP = env.int("LINK_ATTEMPTS_PER_IP", default=60)
LINK_ATTEMPT_WINDOW_SECONDS = env.int("LINK_ATTEMPT_WINDOW_SECONDS", default=900)
# Reverse proxies in front of the web server that append to X-Forwarded-For (0: none, use REMOTE_ADDR).
LOGIN_TRUSTED_PROXIES = env.int("LOGIN_TRUSTED_PROXIES", default=0)
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=150)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Syncs and webhook sends on queues of their own, which every worker consumes by default (round
# robin): a slow provider's syncs fill worker slots for at most their time limit, and webhook
# deliveries never wait behind a backlog of syncs.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = {"celery": {}, "syncs": {}, "webhooks": {}}
CELERY_TASK_ROUTES = {
    "syncs.sync_account": {"queue": "syncs"},
    "syncs.sync_accounts_batch": {"queue": "syncs"},
    "syncs.oauth_keep_alive_account": {"queue": "syncs"},
    "syncs.validate_account_credentials": {"queue": "syncs"},
    "issues.deliver_webhooks": {"queue": "webhooks"},
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The console backend prints every e-mail, magic links included, into the logs: only the embedded
# default. In production a real backend must be chosen on purpose.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend" if EMBEDDED else ""
)
if not EMAIL_BACKEND:
    raise ImproperlyConfigured(
        "EMAIL_BACKEND is required when DEBUG is off (e.g. django.core.mail.backends.smtp.EmailBackend "
        "with EMAIL_HOST/EMAIL_PORT). See README.md, 'Configuration'."
    )
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="relink@localhost")

# Domain settings.
IDLE_AFTER_DAYS = env.int("IDLE_AFTER_DAYS", default=14)
INBOUND_USE_RECORD_INTERVAL_SECONDS = 3600

# Syncs (syncs app).
SANDBOX_PROVIDER_URL = env.str("SANDBOX_PROVIDER_URL", default="http://127.0.0.1:8765")
# Guards the sandbox provider's /control endpoints; the web app and the provider derive the same one.
SANDBOX_CONTROL_TOKEN = env.str(
    "SANDBOX_CONTROL_TOKEN",
    default=hashlib.sha256(f"sandbox-control:{SECRET_KEY}".encode()).hexdigest(),
)
# Outbound HTTP (webhooks and providers) may reach loopback addresses: development and tests
# only. Private, link-local and other non-public addresses are always refused (outbound/).
OUTBOUND_ALLOW_LOOPBACK = env.bool("OUTBOUND_ALLOW_LOOPBACK", default=EMBEDDED)
# OAuth 2.0 integrations: refresh this long before the access token's stated end; warn the end
# user this many days before a grant's stated end; the link page's consent round trip lasts at
# most this long (its state is single use).
OAUTH_REFRESH_MARGIN_SECONDS = env.int("OAUTH_REFRESH_MARGIN_SECONDS", default=300)
CREDENTIALS_EXPIRY_WARNING_DAYS = env.int("CREDENTIALS_EXPIRY_WARNING_DAYS", default=7)
OAUTH_STATE_TTL_SECONDS = env.int("OAUTH_STATE_TTL_SECONDS", default=600)
# The sandbox OAuth server's access-token lifetime (seconds), as `manage.py sandbox_provider` serves it.
SANDBOX_OAUTH_ACCESS_TOKEN_SECONDS = env.int("SANDBOX_OAUTH_ACCESS_TOKEN_SECONDS", default=3600)
# OAuth apps of the real OAuth integrations (per deployment; unset: the integration is not offered
# for linking). Each provider gets <PUBLIC_BASE_URL>/link/oauth/callback as its redirect URI.
GUSTO_CLIENT_ID = env.str("GUSTO_CLIENT_ID", default="")
GUSTO_CLIENT_SECRET = env.str("GUSTO_CLIENT_SECRET", default="")
GUSTO_API_BASE = env.str("GUSTO_API_BASE", default="https://api.gusto.com")
DEEL_CLIENT_ID = env.str("DEEL_CLIENT_ID", default="")
DEEL_CLIENT_SECRET = env.str("DEEL_CLIENT_SECRET", default="")
DEEL_OAUTH_BASE = env.str("DEEL_OAUTH_BASE", default="https://app.deel.com")
DEEL_API_BASE = env.str("DEEL_API_BASE", default="https://api.letsdeel.com/rest/v2")
HUBSPOT_CLIENT_ID = env.str("HUBSPOT_CLIENT_ID", default="")
HUBSPOT_CLIENT_SECRET = env.str("HUBSPOT_CLIENT_SECRET", default="")
SYNC_HTTP_TIMEOUT_SECONDS = env.float("SYNC_HTTP_TIMEOUT_SECONDS", default=10.0)
SYNC_REQUEST_DEADLINE_SECONDS = env.float("SYNC_REQUEST_DEADLINE_SECONDS", default=30.0)
SYNC_MAX_RESPONSE_BYTES = env.int("SYNC_MAX_RESPONSE_BYTES", default=10 * 1024 * 1024)
SYNC_MAX_RECORDS_PER_RUN = env.int("SYNC_MAX_RECORDS_PER_RUN", default=200_000)
SYNC_RATE_LIMIT_RETRIES = env.int("SYNC_RATE_LIMIT_RETRIES", default=3)
SYNC_RATE_LIMIT_MAX_WAIT_SECONDS = env.float("SYNC_RATE_LIMIT_MAX_WAIT_SECONDS", default=30.0)
SYNC_TASK_SOFT_TIME_LIMIT = env.int("SYNC_TASK_SOFT_TIME_LIMIT", default=300)
SYNC_TASK_TIME_LIMIT = env.int("SYNC_TASK_TIME_LIMIT", default=330)
# A running sync's lease outlives the hard time limit; the recovery job fails runs past it.
SYNC_RUN_LEASE_SECONDS = env.int("SYNC_RUN_LEASE_SECONDS", default=SYNC_TASK_TIME_LIMIT + 60)
# How long a handed-out account stays claimed (its SyncDispatch row) when its run never reports;
# then the dispatcher hands it out again.
SYNC_DISPATCH_LEASE_SECONDS = env.int("SYNC_DISPATCH_LEASE_SECONDS", default=SYNC_RUN_LEASE_SECONDS + 60)
SYNC_DISPATCH_BATCH_SIZE = env.int("SYNC_DISPATCH_BATCH_SIZE", default=100)
SYNC_DISPATCH_MAX_PER_TICK = env.int("SYNC_DISPATCH_MAX_PER_TICK", default=20_000)
SYNC_DISPATCH_INTERVAL_SECONDS = env.float("SYNC_DISPATCH_INTERVAL_SECONDS", default=5.0)
SYNC_RECOVER_INTERVAL_SECONDS = env.float("SYNC_RECOVER_INTERVAL_SECONDS", default=60.0)
REQUEST_LOG_RETENTION_DAYS = env.int("REQUEST_LOG_RETENTION_DAYS", default=30)

# Issues and webhooks (issues app).
ISSUE_ERROR_DETAILS_MAX = env.int("ISSUE_ERROR_DETAILS_MAX", default=20)
# Private/loopback webhook URLs: allowed in local runs and tests, refused in production.
WEBHOOK_CONNECT_TIMEOUT_SECONDS = env.float("WEBHOOK_CONNECT_TIMEOUT_SECONDS", default=5.0)
WEBHOOK_READ_TIMEOUT_SECONDS = env.float("WEBHOOK_READ_TIMEOUT_SECONDS", default=10.0)
# The most one attempt may take, however slowly the receiver trickles its answer.
WEBHOOK_TOTAL_TIMEOUT_SECONDS = env.float("WEBHOOK_TOTAL_TIMEOUT_SECONDS", default=15.0)
WEBHOOK_RESPONSE_BODY_LIMIT = env.int("WEBHOOK_RESPONSE_BODY_LIMIT", default=4096)
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
WEBHOOK_RETRY_MAX_DELAY_SECONDS = env.float("WEBHOOK_RETRY_MAX_DELAY_SECONDS", default=4 * 3600.0)
WEBHOOK_RETRY_JITTER = env.float("WEBHOOK_RETRY_JITTER", default=0.25)
WEBHOOK_RETRY_WINDOW_HOURS = env.float("WEBHOOK_RETRY_WINDOW_HOURS", default=24.0)
# After a signature key rotation, the old key keeps signing (beside the new one) this long.
WEBHOOK_KEY_ROTATION_OVERLAP_HOURS = env.float("WEBHOOK_KEY_ROTATION_OVERLAP_HOURS", default=24.0)
WEBHOOK_DISABLE_AFTER_HOURS = env.float("WEBHOOK_DISABLE_AFTER_HOURS", default=24.0)
# A due delivery whose send task was queued this long ago and never claimed is queued again.
WEBHOOK_REQUEUE_AFTER_SECONDS = env.float("WEBHOOK_REQUEUE_AFTER_SECONDS", default=60.0)
WEBHOOK_SWEEP_INTERVAL_SECONDS = env.float("WEBHOOK_SWEEP_INTERVAL_SECONDS", default=15.0)
# Deliveries queued together (one transaction's events, a sweep) travel as one task message of at
# most this many, sent one after another by one worker slot with one claim and one result write.
WEBHOOK_SEND_BATCH_SIZE = env.int("WEBHOOK_SEND_BATCH_SIZE", default=25)
# Finished deliveries (and their attempts) older than this are deleted daily.
WEBHOOK_DELIVERY_RETENTION_DAYS = env.int("WEBHOOK_DELIVERY_RETENTION_DAYS", default=30)

# LOG_FORMAT=json: one JSON object per line with the request, organization and linked-account ids.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))

# Operations (config/health.py, config/metrics.py): /healthz, /readyz, /metrics.
# /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it is a 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# prometheus-client's multi-process mode (gunicorn and the prefork worker): every process writes
# its samples into this directory and /metrics adds them up. It must exist and start empty;
# scripts/run.sh and the Procfile set it. The tests get one of their own per run.
if TESTING and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(RUN_DIR / f"prometheus-test-{os.getpid()}")
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR:
    os.makedirs(PROMETHEUS_MULTIPROC_DIR, exist_ok=True)
# The linked-accounts gauge is one GROUP BY query, made at most this often per web process.
METRICS_ACCOUNT_COUNTS_SECONDS = env.float("METRICS_ACCOUNT_COUNTS_SECONDS", default=60.0)
# /readyz fails when the dispatcher's last tick is older than this (3 intervals), or when a due
# webhook delivery has waited longer than this.
READYZ_BEAT_MAX_AGE_SECONDS = env.float(
    "READYZ_BEAT_MAX_AGE_SECONDS", default=3 * SYNC_DISPATCH_INTERVAL_SECONDS
)
READYZ_WEBHOOK_MAX_LAG_SECONDS = env.float("READYZ_WEBHOOK_MAX_LAG_SECONDS", default=300.0)
# How long /readyz waits for Redis (and PostgreSQL to connect) before naming it down.
READYZ_TIMEOUT_SECONDS = env.float("READYZ_TIMEOUT_SECONDS", default=2.0)

if not EMBEDDED:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

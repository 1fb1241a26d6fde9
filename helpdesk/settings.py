"""Settings for the helpdesk, read top to bottom and configured by the environment.

Every variable is listed in `.env.example`. Without any variable set the project runs as a
demo: SQLite file, an embedded broker in a local folder, console email, DEBUG on.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A local `.env` file is a convenience for development; real deployments set the environment.
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

# Safe by default: DEBUG is off unless asked for. DEMO=true (set by `make run`, `make demo` and
# the test suite) is the local demo: DEBUG on and a fixed, public secret key.
DEMO = env.bool("DEMO", default=False)
DEBUG = env.bool("DEBUG", default=DEMO)

_INSECURE_DEMO_KEY = "django-insecure-demo-key-only-for-local-development-never-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="") or (_INSECURE_DEMO_KEY if DEMO else "")
if not SECRET_KEY or (SECRET_KEY == _INSECURE_DEMO_KEY and not DEBUG):
    # The demo key is public: it signs nothing outside a local demo with DEBUG on.
    raise ImproperlyConfigured("SECRET_KEY must be set (DEMO=true only for the local demo).")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

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
    "rest_framework.authtoken",
    "knox",
    "drf_spectacular",
    "django_filters",
    "django_htmx",
    "template_partials",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "accounts",
    "tickets",
    "sla",
    "escalation",
    "notifications",
    "reporting",
    "dashboard",
    "incidents",
    "lessons",
    "lab",
    "demo",
    "api",
    "knowledge",
    "mail",
    "integrations",
    "portal",
    "monitoring",
]

MIDDLEWARE = [
    # First: the request id and latency cover everything below (monitoring/middleware.py).
    "monitoring.middleware.RequestContextMiddleware",
    "helpdesk.proxy.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "notifications.language.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.StaffTwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a login refused for a lock-out into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"
ASGI_APPLICATION = "helpdesk.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Form widgets: Django's templates, the commonest written as code (helpdesk/form_renderer.py).
FORM_RENDERER = "helpdesk.form_renderer.WidgetRenderer"

# Database: PostgreSQL in production (DATABASE_URL=postgres://...), a SQLite file for the demo.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # No JIT compilation: our statements are short, but an aggregate with many conditional
    # counts (the list's saved-view counts) is estimated expensive enough to be compiled, and
    # compiling took 2 s of a 75 ms query at 100k tickets. DB_JIT=true turns it back on.
    if not env.bool("DB_JIT", default=False):
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c jit=off".strip()
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the demo file: wait for locks instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tickets:list"
LOGOUT_REDIRECT_URL = "login"

# Sign-in throttling (django-axes): after LOGIN_FAILURE_LIMIT failed logins (wrong password or
# wrong two-factor code) for one user name, or from one address, further attempts are refused
# for LOGIN_COOLOFF_MINUTES, whether the user name exists or not. An admin unlocks earlier by
# deleting the attempts in the admin (Axes › Access attempts) or with
# `manage.py axes_reset_username NAME` / `axes_reset_ip ADDRESS`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Permissions in one query instead of two; signs nobody in (accounts/backends.py).
    "accounts.backends.OneQueryPermissions",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_COOLOFF_MINUTES = env.int("LOGIN_COOLOFF_MINUTES", default=15)
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_CLIENT_IP_CALLABLE = "accounts.security.client_ip"
AXES_VERBOSE = False
if AXES_FAILURE_LIMIT < 1 or LOGIN_COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT and LOGIN_COOLOFF_MINUTES must be positive.")

# Two-factor sign-in (django-otp, TOTP + recovery codes). With STAFF_REQUIRE_2FA on, staff
# without an authenticator are sent to set one up before they can work.
STAFF_REQUIRE_2FA = env.bool("STAFF_REQUIRE_2FA", default=False)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Helpdesk")
# Admins may delete a user's authenticator (a lost phone: the user sets up a new one) but never
# read its secret or QR code.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Internationalisation: English source strings, complete German translation in locale/de.
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("de", _("German"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Berlin")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Attachments are never served from MEDIA_URL: only through the authorised download view.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Upload limits, enforced while the request streams in (helpdesk/uploads.py), and again by the
# services for every other way in: per file, files per message, the whole request, and all
# attachments of one ticket together.
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENT_MAX_FILES = env.int("ATTACHMENT_MAX_FILES", default=10)
UPLOAD_MAX_REQUEST_BYTES = env.int("UPLOAD_MAX_REQUEST_BYTES", default=25 * 1024 * 1024)
TICKET_ATTACHMENTS_MAX_BYTES = env.int("TICKET_ATTACHMENTS_MAX_BYTES", default=100 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = [
    "helpdesk.uploads.UploadLimitHandler",  # first: it stops the upload at a limit
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Django's own cap on files per request answers with a bare 400; ours comes first, with a form
# error, so Django's sits one above it.
DATA_UPLOAD_MAX_NUMBER_FILES = ATTACHMENT_MAX_FILES + 1
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Stored attachments are readable by the app's user and group only.
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750

TICKET_REFERENCE_PREFIX = env.str("TICKET_REFERENCE_PREFIX", default="HD")
TICKETS_PER_PAGE = env.int("TICKETS_PER_PAGE", default=25)
# The escalation dashboard keeps its 30-day trends this many seconds in the cache (0: off).
DASHBOARD_TRENDS_CACHE_SECONDS = env.int("DASHBOARD_TRENDS_CACHE_SECONDS", default=300)

# Email: console in the demo, SMTP (EMAIL_URL=smtp://user:pass@host:587/?tls=True) in production.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="helpdesk@localhost")
# Inbound email (mail/): the largest raw message accepted (the endpoint answers 413 above it),
# and how many messages one IMAP poll of a mailbox takes at most.
MAIL_MAX_BYTES = env.int("MAIL_MAX_BYTES", default=25 * 1024 * 1024)
MAIL_POLL_BATCH = env.int("MAIL_POLL_BATCH", default=200)
MAIL_IMAP_TIMEOUT = env.int("MAIL_IMAP_TIMEOUT", default=30)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery: Redis when REDIS_URL is set; otherwise kombu's filesystem transport, which needs no
# server and lets `make run` start a real worker and beat on a bare machine.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_DIR = Path(env.str("CELERY_BROKER_DIR", default=str(VAR_DIR / "broker")))
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR),
        "data_folder_out": str(CELERY_BROKER_DIR),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
    }
    # Web, worker and beat all write into these folders; they must exist before any of them.
    (CELERY_BROKER_DIR / "control").mkdir(parents=True, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
# The escalation sweep locks and decides due tickets in batches; when more than one batch is
# due, the beat's sweep asks up to ESCALATION_SWEEP_PARALLEL - 1 more workers to share the
# work (they split it through SKIP LOCKED). 1 keeps every sweep in one worker.
ESCALATION_SWEEP_BATCH = env.int("ESCALATION_SWEEP_BATCH", default=200)
# Tickets per committed batch when SLA clocks are recomputed after a policy or calendar change
# (escalation/recompute.py): an interrupted run loses at most one batch.
SLA_RECOMPUTE_BATCH = env.int("SLA_RECOMPUTE_BATCH", default=500)
ESCALATION_SWEEP_PARALLEL = env.int("ESCALATION_SWEEP_PARALLEL", default=2)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
# A broker outage must never hang a web request: fail fast, the outbox relay catches up.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

CACHES = {
    "default": (
        {
            # Django's Redis cache, answering as an empty cache while Redis is away
            # (helpdesk/cache.py); a second at most per connection attempt and reply.
            "BACKEND": "helpdesk.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so that a request without credentials is a 401 naming the Token scheme.
        "api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON only: the browsable API's pages would need inline scripts, which the CSP forbids.
    "DEFAULT_RENDERER_CLASSES": ["api.renderers.SafeJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "api.problems.problem_handler",
    # Per user (an anonymous caller: per address), per token, and stricter scopes
    # (`throttle_scope`) for making tokens and for alert intake (integrations/throttles.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "integrations.throttles.TokenRateThrottle",
        "integrations.throttles.ScopeRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env("API_THROTTLE_RATE", default="1000/hour"),
        "token": env("API_TOKEN_THROTTLE_RATE", default="1000/hour"),
        "token_create": env("API_TOKEN_CREATE_THROTTLE_RATE", default="10/hour"),
        "alerts": env("ALERTS_THROTTLE_RATE", default="600/minute"),
        "login": env("LOGIN_THROTTLE_RATE", default="30/minute"),
    },
}
# API tokens: knox stores a SHA-512 digest only; a token expires API_TOKEN_TTL_DAYS after it
# was made. The model adds the name the owner gave it.
KNOX_TOKEN_MODEL = "api.ApiToken"  # noqa: S105 - a model name, not a secret
# knox's own migrations would create its default token table although the model above
# replaces it; Django's flush does not know that table and fails on its foreign key.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env.int("API_TOKEN_TTL_DAYS", default=90)),
    "AUTH_HEADER_PREFIX": "Token",
}
# A POST with an Idempotency-Key: its answer is replayed to retries for this long (api.idempotency).
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
SPECTACULAR_SETTINGS = {
    "TITLE": "Helpdesk API",
    "DESCRIPTION": "Tickets, SLA and escalation management.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The enum hook is drf-spectacular's default; ours adds the problem-details responses.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_problem_responses",
    ],
    # One name per choice set shared by several models' fields (and Alertmanager's "status",
    # firing/resolved, beside the ticket's).
    "ENUM_NAME_OVERRIDES": {
        "AlertStatusEnum": "integrations.alerts.ALERT_STATUSES",
        "Priority": "tickets.priority.Priority",
        "TicketStatus": "tickets.models.Ticket.Status",
        "EscalationStatus": "escalation.models.Escalation.Status",
        "ServiceStatus": "tickets.models.Service.Status",
        "ServiceCriticality": "tickets.models.Service.Criticality",
        "NewMessageKind": "api.serializers.MESSAGE_KINDS",
        # Choice sets read in one component and written in another (the admin form's body,
        # `api.forms`): their names as they were when only the read side had them.
        "ChannelEnum": "tickets.models.Ticket.Channel",
        "TierEnum": "tickets.models.Customer.Tier",
        "TeamKindEnum": "tickets.models.Team.Kind",
        "CustomerKindEnum": "tickets.models.Customer.Kind",
        "CalendarExceptionKindEnum": "sla.models.CalendarException.Kind",
        "MessageTemplateKindEnum": "notifications.models.MessageTemplate.Kind",
        "ConfigVersionKindEnum": "lab.models.ConfigVersion.Kind",
    },
    # The webhook events, described next to the API (the payload's ticket is the API's).
    "WEBHOOKS": [
        f"api.webhooks.{name}"
        for name in (
            "TICKET_CREATED",
            "TICKET_UPDATED",
            "TICKET_TRANSITIONED",
            "TICKET_MESSAGE",
            "SLA_WARNING",
            "SLA_BREACHED",
            "ESCALATION_RAISED",
            "ESCALATION_ACKNOWLEDGED",
            "ESCALATION_DEESCALATED",
            "INCIDENT_DECLARED",
            "INCIDENT_UPDATED",
            "INCIDENT_RESOLVED",
            "SERVICE_STATUS_CHANGED",
        )
    ],
    # Webhooks are an OpenAPI 3.1 feature.
    "OAS_VERSION": "3.1.0",
}

# Security: strict by default when DEBUG is off (`manage.py check --deploy` stays quiet).
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# BEHIND_PROXY=true: a TLS-terminating reverse proxy (deploy/Caddyfile) is in front, and its
# X-Forwarded-Proto says whether the request came over HTTPS. Forwarded headers are dropped
# from every other sender (helpdesk.proxy): FORWARDED_ALLOW_IPS lists the proxy's addresses or
# networks, the same variable gunicorn reads.
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
FORWARDED_ALLOW_IPS = env.list("FORWARDED_ALLOW_IPS", default=["127.0.0.1", "::1"])
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Content-Security-Policy on every response (django-csp): scripts and styles only from our own
# origin, no inline script, no plugins, no framing, forms post only to us. The templates keep
# every script in static/js and no on* handler; htmx's indicator style is in static/css/app.css
# (includeIndicatorStyles false in base.html). data: images are Bootstrap's inline SVG icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# Logs go to stdout. LOG_FORMAT=json (the default with DEBUG off) writes one JSON object per
# line with the request id, ticket reference and Celery task id (helpdesk/logcontext.py);
# LOG_FORMAT=plain writes readable lines (the default with DEBUG on, i.e. `make run`).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured("LOG_FORMAT must be 'json' or 'plain'.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "helpdesk.logcontext.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(ticket)s"
            " %(task_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Monitoring (docs/operations.md). /metrics answers a scraper that sends
# "Authorization: Bearer METRICS_TOKEN" (and active superusers' sessions); empty: only those.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# /healthz says "degraded" when the last sweep ended longer ago than this, or the oldest due
# email/webhook has waited longer than that (seconds).
HEALTH_SWEEP_MAX_AGE_SECONDS = env.int("HEALTH_SWEEP_MAX_AGE_SECONDS", default=300)
HEALTH_OUTBOX_MAX_AGE_SECONDS = env.int("HEALTH_OUTBOX_MAX_AGE_SECONDS", default=600)

# Notifications: the outbox of emails and webhooks (notifications/outbox.py).
# Absolute base of links in emails and webhook payloads, e.g. https://helpdesk.example.com
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Seconds an SMTP conversation may take before the attempt counts as failed and is retried.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# Failed deliveries are retried with exponential backoff and jitter: about base·2^(n-1)
# seconds after the n-th failure, at most the cap, until the attempts run out ("failed").
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=10)
NOTIFICATIONS_RETRY_BASE_SECONDS = env.float("NOTIFICATIONS_RETRY_BASE_SECONDS", default=30.0)
NOTIFICATIONS_RETRY_MAX_SECONDS = env.float("NOTIFICATIONS_RETRY_MAX_SECONDS", default=3600.0)
# A delivery in `sending` longer than this was left by a worker that died mid-send: the relay
# puts it back (keep it well above the webhook and SMTP timeouts). The relay queues a due row
# at most once per lease (seconds).
NOTIFICATIONS_SENDING_TIMEOUT_SECONDS = env.int(
    "NOTIFICATIONS_SENDING_TIMEOUT_SECONDS", default=600
)
NOTIFICATIONS_RELAY_LEASE_SECONDS = env.int("NOTIFICATIONS_RELAY_LEASE_SECONDS", default=300)
if NOTIFICATIONS_MAX_ATTEMPTS < 1 or NOTIFICATIONS_RETRY_BASE_SECONDS <= 0:
    raise ImproperlyConfigured("NOTIFICATIONS_MAX_ATTEMPTS and the retry base must be positive.")
# Seconds a webhook receiver has to answer.
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=5.0)
# Webhook targets in private, loopback or link-local ranges are refused (checked on every
# send, after DNS resolution) unless this is on: for receivers inside your own network.
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", default=False)

# Customer portal (/portal/, docs/portal.md). Contacts sign in with a one-time code sent to
# their address: it is good for PORTAL_CODE_MINUTES and PORTAL_CODE_MAX_ATTEMPTS tries. Code
# requests are limited per address and per IP, wrong codes per IP, each within
# PORTAL_THROTTLE_MINUTES (counted in the cache: Redis when REDIS_URL is set).
PORTAL_CODE_MINUTES = env.int("PORTAL_CODE_MINUTES", default=10)
PORTAL_CODE_MAX_ATTEMPTS = env.int("PORTAL_CODE_MAX_ATTEMPTS", default=5)
PORTAL_THROTTLE_MINUTES = env.int("PORTAL_THROTTLE_MINUTES", default=15)
PORTAL_CODE_REQUESTS_PER_ADDRESS = env.int("PORTAL_CODE_REQUESTS_PER_ADDRESS", default=5)
PORTAL_CODE_REQUESTS_PER_IP = env.int("PORTAL_CODE_REQUESTS_PER_IP", default=20)
PORTAL_CODE_VERIFY_PER_IP = env.int("PORTAL_CODE_VERIFY_PER_IP", default=20)
# The team that receives portal tickets whose service names no owning team (by name; empty:
# the active tier team on the lowest support level).
PORTAL_TEAM = env.str("PORTAL_TEAM", default="")
# Days after a solution in which the customer can reopen the ticket from the portal.
PORTAL_REOPEN_DAYS = env.int("PORTAL_REOPEN_DAYS", default=14)
# Days a signed rating link stays valid; ratings at or below PORTAL_LOW_RATING tell the lead.
PORTAL_RATING_LINK_DAYS = env.int("PORTAL_RATING_LINK_DAYS", default=30)
PORTAL_LOW_RATING = env.int("PORTAL_LOW_RATING", default=2)
if min(PORTAL_CODE_MINUTES, PORTAL_CODE_MAX_ATTEMPTS, PORTAL_THROTTLE_MINUTES) < 1:
    raise ImproperlyConfigured("The PORTAL_CODE_* and PORTAL_THROTTLE_MINUTES must be positive.")

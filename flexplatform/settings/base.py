"""Shared settings, read through one django-environ ``Env``.

Every environment variable the platform reads is listed in the README's configuration table.
"""

import os
from pathlib import Path

# Baseline regressions solve many small least-squares systems: multi-threaded BLAS only thrashes the
# cores that web and Celery processes share. Set before numpy loads; override in the environment.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import environ  # noqa: E402
from celery.schedules import crontab  # noqa: E402

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

#: the embedded default's files: its SQLite database, the local anvil's state, collected static files
VAR_DIR = Path(env("FLEX_VAR_DIR", default=str(BASE_DIR / "var")))

# Anvil's (and Hardhat's) ten well-known development keys, from the public "test test ... junk" mnemonic. Anvil's
# first is the local default; production refuses every one of them (flexplatform/core/checks.py).
ANVIL_DEV_PRIVATE_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
)
ANVIL_DEV_PRIVATE_KEY = ANVIL_DEV_PRIVATE_KEYS[0]
#: the development secret key; production refuses it
DEV_SECRET_KEY = "insecure-local-development-key-not-for-production"

SECRET_KEY = env("DJANGO_SECRET_KEY", default=DEV_SECRET_KEY)
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from our static files (works offline)
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "axes",
    "flexplatform.core",
    "accounts",
    "assessment",
    "market",
    "activation",
    "settlement",
    "portal",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "flexplatform.core.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "flexplatform.middleware.RequestGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.mfa.RequireMFAMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out sign-in into the lockout response
]

ROOT_URLCONF = "flexplatform.urls"
WSGI_APPLICATION = "flexplatform.wsgi.application"

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
                "portal.context_processors.portal_role",
                "portal.context_processors.emergency_stop",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'flexplatform.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections (seconds; 0 = a new connection per request). A Postgres connection costs a backend
# process fork and several milliseconds: the web server keeps one per worker (production default 60).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DJANGO_CONN_HEALTH_CHECKS", default=True)
if DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql") and env.bool(
    "DJANGO_DB_PREPARED_STATEMENTS", default=False
):
    # Server-side parameter binding with prepared statements: PostgreSQL parses and plans a statement run again
    # and again (the order path's) once per connection instead of on every run. Not through a transaction-mode
    # pooler (pgbouncer < 1.21), whose connections change under the prepared names.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})


def postgres_jit_off(database: dict) -> None:
    """No JIT compilation in PostgreSQL's planner (``DJANGO_DB_JIT=false``, the default): the platform's statements
    are short, and a statement whose estimated cost passes ``jit_above_cost`` paid 0.1-1.8 s compiling it (seen on
    the market day's chunk reads at 10,000 premises, issue #21), more than it ran. PostgreSQL's own advice for
    OLTP work; analytical reports that want it can set ``DJANGO_DB_JIT=true``."""
    if database["ENGINE"].startswith("django.db.backends.postgresql") and not env.bool("DJANGO_DB_JIT", default=False):
        options = database.setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c jit=off".strip()


postgres_jit_off(DATABASES["default"])
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update({"timeout": 30, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out account or address before any password check
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:home"

# django-allauth: email is the login; new accounts verify their address.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="flexplatform@localhost")

# Brute-force protection (django-axes), shared by the sign-in page, the API token endpoint and its TOTP check
# (accounts/lockout.py): this many failures lock the account, and the address they came from, for the cool-off.
AXES_FAILURE_LIMIT = env.int("AUTH_LOCKOUT_FAILURES", default=10)
AXES_COOLOFF_TIME = env.float("AUTH_LOCKOUT_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks: per account and per address
AXES_USERNAME_CALLABLE = "accounts.lockout.username_of"
# Reverse proxies in front of the platform that append to X-Forwarded-For (0: the client connects directly).
AUTH_TRUSTED_PROXY_COUNT = env.int("AUTH_TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
# allauth's own sign-in rate limit stays looser than the lockout, so the lockout is what a guesser meets.
ACCOUNT_RATE_LIMITS = {"login_failed": f"{4 * AXES_FAILURE_LIMIT}/m/ip,{AXES_FAILURE_LIMIT}/5m/key"}
# API tokens (accounts/tokens.py) last this many days, then must be rotated or a new one obtained.
API_TOKEN_TTL_DAYS = env.int("API_TOKEN_TTL_DAYS", default=30)

# Content-Security-Policy (flexplatform/core/csp.py): scripts only from our origin or with the response's nonce.
CSP_REPORT_ONLY = env.bool("CSP_REPORT_ONLY", default=False)

# Outgoing callbacks (activation webhooks, OpenADR subscriptions) never go to private, loopback, link-local or
# metadata addresses (flexplatform/core/egress.py) unless a host or network is named here (tests, the demo).
CALLBACK_ALLOWED_HOSTS = env.list("CALLBACK_ALLOWED_HOSTS", default=[])

# MFA (TOTP) through allauth; required for grid-operator and admin accounts (accounts/mfa.py).
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "FlexMarket"
MFA_ADAPTER = "accounts.mfa.MFAAdapter"

# KYC / KYB (accounts/kyc/): how long a verification lasts, the sanctions list screened, the deciding provider.
KYC_VALIDITY_DAYS = env.int("KYC_VALIDITY_DAYS", default=365)
KYC_SANCTIONS_LIST_PATH = env(
    "KYC_SANCTIONS_LIST_PATH", default=str(BASE_DIR / "accounts" / "data" / "sanctions_sample.csv")
)
KYC_PROVIDER = env("KYC_PROVIDER", default="manual")
# Uploaded identity documents live outside MEDIA_ROOT and every static path: no URL reaches them; the admin and the
# auditor portal stream them to admins and auditors only (accounts/kyc/documents.py).
INVITATION_VALIDITY_DAYS = env.int("INVITATION_VALIDITY_DAYS", default=7)
KYC_DOCUMENT_ROOT = env("KYC_DOCUMENT_ROOT", default=str(VAR_DIR / "private" / "kyc"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",  # DRF's, with the user's memberships in the same query
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.permissions.AuditorReadOnly",
    ],
    "DEFAULT_SCHEMA_CLASS": "flexplatform.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "flexplatform.pagination.Pagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "flexplatform.errors.api_exception_handler",
    # The token endpoint (accounts/api_tokens.py): per address and per account, above the lockout (which answers
    # first for one account) and against guessing across many accounts from one address.
    "NUM_PROXIES": AUTH_TRUSTED_PROXY_COUNT,  # a client's own X-Forwarded-For never picks its throttle bucket
    "DEFAULT_THROTTLE_RATES": {
        "auth_ip": env("AUTH_THROTTLE_IP_RATE", default="60/min"),
        "auth_account": env("AUTH_THROTTLE_ACCOUNT_RATE", default="20/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Flexibility platform API",
    "DESCRIPTION": "Offers, requests, awards, events, settlements and anchoring for grid operators and aggregators.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # drf-spectacular-sidecar: no CDN, no @latest
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "MarketEnum": "market.engine.products.MarketType.CHOICES",
        "AwardMarketEnum": "market.engine.products.MarketType.AWARD_CHOICES",
        "OrderKindEnum": "market.models.MarketOrder.Kind",
        "MarketOrderStatusEnum": "market.models.MarketOrder.Status",
        "DeviceKindEnum": "accounts.models.Device.Kind",
        "GridSignalKindEnum": "activation.models.GridSignal.Kind",
    },
}

# Celery: the Redis broker when one is configured; otherwise tasks run eagerly in-process.
REDIS_URL = env("REDIS_URL", default="")
# Caches: per-process memory by default; "shared" (Redis) when REDIS_URL is set, seen by every process.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if REDIS_URL:
    CACHES["shared"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL or None)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    CELERY_BROKER_URL = "memory://"  # never used: tasks run in-process
CELERY_TASK_EAGER_PROPAGATES = True
# At-least-once delivery: a task's message is acknowledged when the task has finished, and a message whose worker
# process died under it (SIGKILL, out of memory) goes back to the queue; every task is idempotent.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Redis: a message taken by a worker that vanished whole (killed, machine lost) is delivered again once it has been
# unacknowledged this long. It must exceed the longest task plus any retry countdown (at most 60 s), else a slow
# task runs twice (harmless, wasted). Abandoned messages are looked for every tenth of it (at most every 10 s).
CELERY_VISIBILITY_TIMEOUT_SECONDS = env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT_SECONDS,
    "unacked_restore_interval": max(1, min(10, CELERY_VISIBILITY_TIMEOUT_SECONDS // 10)),
    "unacked_restore_throttle": 1,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
ANCHOR_INTERVAL_MINUTES = env.int("ANCHOR_INTERVAL_MINUTES", default=60)
ANCHOR_AUDIT_INTERVAL_MINUTES = env.int("ANCHOR_AUDIT_INTERVAL_MINUTES", default=24 * 60)
CELERY_BEAT_SCHEDULE = {
    "advance-events": {"task": "activation.tasks.advance_events", "schedule": 60.0},
    "activate-pending-awards": {"task": "activation.tasks.activate_pending_awards", "schedule": 60.0},
    "clear-due-auctions": {"task": "market.tasks.clear_due_auctions", "schedule": 60.0},
    "close-due-books": {"task": "market.tasks.close_due_books", "schedule": 60.0},
    "verify-due-events": {"task": "activation.tasks.verify_due_events", "schedule": 15 * 60.0},
    "expire-verifications": {"task": "accounts.tasks.expire_verifications", "schedule": 60 * 60.0},
    "expire-consents": {"task": "accounts.tasks.expire_consents", "schedule": 15 * 60.0},
    "flush-outbox": {"task": "activation.tasks.flush_outbox", "schedule": 5.0},
    "check-acks-and-cascades": {"task": "activation.tasks.check_acks_and_cascades", "schedule": 15.0},
    "anchor-closed-periods": {
        "task": "settlement.tasks.anchor_closed_periods",
        "schedule": ANCHOR_INTERVAL_MINUTES * 60.0,
    },
    "audit-anchors": {"task": "settlement.tasks.audit_anchors", "schedule": ANCHOR_AUDIT_INTERVAL_MINUTES * 60.0},
    "assessment-recompute-nightly": {
        "task": "assessment.tasks.assessment_recompute_nightly",
        "schedule": crontab(hour=2, minute=30),
    },
    "refresh-meter-statuses": {"task": "assessment.tasks.refresh_meter_statuses", "schedule": 60 * 60.0},
    # Compensation: settle yesterday (UTC) every day at 02:00 UTC, after late meter data; tally governance hourly.
    "settle-day": {"task": "settlement.tasks.settle_day", "schedule": crontab(hour=2, minute=0)},
    "tally-proposals": {"task": "settlement.tasks.tally_proposals", "schedule": 3600.0},
    # Notifications: the email outbox is swept every minute too (a lost enqueue sends late, never twice).
    "send-notification-emails": {"task": "accounts.tasks.send_notification_emails", "schedule": 60.0},
    # Bill protection (ADR 0026): settle every covered premise-month that is due, daily at 03:00 UTC.
    "settle-bill-protection": {
        "task": "settlement.tasks.settle_bill_protection",
        "schedule": crontab(hour=3, minute=0),
    },
    # FLEX tokens on chain (ADR 0023): a claims epoch a day after settlement; claims seen every minute.
    "close-claims-epoch": {"task": "settlement.tasks.close_claims_epoch", "schedule": crontab(hour=3, minute=0)},
    "sync-token-claims": {"task": "settlement.tasks.sync_token_claims", "schedule": 60.0},
}
# The portal's public address, for the links in notification emails.
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="http://localhost:8000")
# Assessment: the baseline settled against (unless a premise's program says otherwise) and the forecast
# baseline used to assess capacity before the event day (keys of assessment.baselines.compute.METHODS).
ASSESSMENT_BASELINE_METHOD = env("ASSESSMENT_BASELINE_METHOD", default="caiso-10in10")
ASSESSMENT_FORECAST_METHOD = env("ASSESSMENT_FORECAST_METHOD", default="caiso-10in10-unadjusted")
# How market awards pick each resource's settlement baseline: ``most-accurate`` (the method most accurate on the
# resource's like days, re-evaluated monthly; ASSESSMENT_BASELINE_METHOD kept unless clearly beaten) or ``fixed``.
MARKET_BASELINE_POLICY = env("MARKET_BASELINE_POLICY", default="most-accurate")

# The plausible date window (flexplatform.plausible): client dates outside [min, max) are refused with 400.
PLAUSIBLE_DATE_MIN = env("PLAUSIBLE_DATE_MIN", default="2000-01-01")
PLAUSIBLE_DATE_MAX = env("PLAUSIBLE_DATE_MAX", default="2100-01-01")
# Request bodies above this (bytes, file uploads excepted) answer 413 in the JSON error shape (RequestGuardMiddleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

# Weather for weather-sensitive baselines (CalTRACK hourly): sources in order of preference (dotted paths, see
# assessment/weather/sources.py), the farthest a premise's weather station may be, and the method used instead
# when a premise has no temperatures.
WEATHER_SOURCES = ["assessment.weather.sources.StationTemperatures"]
WEATHER_STATION_MAX_KM = env.float("WEATHER_STATION_MAX_KM", default=100.0)
ASSESSMENT_WEATHERLESS_METHOD = env("ASSESSMENT_WEATHERLESS_METHOD", default="caiso-10in10-unadjusted")

# Chain: anchoring goes to any Ethereum JSON-RPC endpoint; ``eth-tester://`` is an in-process EVM.
CHAIN_RPC_URL = env("CHAIN_RPC_URL", default="http://127.0.0.1:8545")
CHAIN_PRIVATE_KEY = env("CHAIN_PRIVATE_KEY", default=ANVIL_DEV_PRIVATE_KEY)
CHAIN_CONFIRMATIONS = env.int("CHAIN_CONFIRMATIONS", default=1)
# The published deployment (chain id, FlexAnchor address, deployment block): what every verifier pins. Empty =
# the contract the platform deployed itself on CHAIN_RPC_URL (development); production sets all three.
CHAIN_ID = env.int("CHAIN_ID", default=None)
CHAIN_CONTRACT_ADDRESS = env("CHAIN_CONTRACT_ADDRESS", default="")
CHAIN_DEPLOYMENT_BLOCK = env.int("CHAIN_DEPLOYMENT_BLOCK", default=None)
# The FlexToken contract (ERC-1155 FLEX tokens and their claims distributor). Empty = deployed by the platform.
CHAIN_TOKEN_ADDRESS = env("CHAIN_TOKEN_ADDRESS", default="")
# Transaction links on the portal's token page: "{tx}" is replaced by the hash (empty = no link).
CHAIN_EXPLORER_TX_URL = env("CHAIN_EXPLORER_TX_URL", default="")
# Confirmed anchors whose block is this recent are re-checked for reorganisations on every run.
CHAIN_REORG_WINDOW_BLOCKS = env.int("CHAIN_REORG_WINDOW_BLOCKS", default=128)
# An hour is anchored once it has ended and this many minutes more have passed.
ANCHOR_GRACE_MINUTES = env.int("ANCHOR_GRACE_MINUTES", default=5)

SETTLEMENT_CURRENCY = env("SETTLEMENT_CURRENCY", default="USD")
# Fiat payouts (ADR 0027): the platform's own bank account, the debtor of every pain.001 credit-transfer file.
PAYOUT_DEBTOR_NAME = env("PAYOUT_DEBTOR_NAME", default="Flex Platform Payouts")
PAYOUT_DEBTOR_IBAN = env("PAYOUT_DEBTOR_IBAN", default="DE89370400440532013000")
PAYOUT_DEBTOR_BIC = env("PAYOUT_DEBTOR_BIC", default="COBADEFFXXX")

# Market: the scarcity adder's ceiling ($/MWh) when offered flexibility falls to zero against the requested reserve.
MARKET_SCARCITY_ADDER_MAX_PER_MWH = env.int("MARKET_SCARCITY_ADDER_MAX_PER_MWH", default=1000)
# Day-ahead block selection (market.engine.optimum): seconds the solver may take per clearing before the heuristic's
# selection is kept, and the threads the connected components are solved on.
MARKET_DAY_AHEAD_SOLVER_TIME_LIMIT_S = env.float("MARKET_DAY_AHEAD_SOLVER_TIME_LIMIT_S", default=30.0)
MARKET_DAY_AHEAD_SOLVER_WORKERS = env.int("MARKET_DAY_AHEAD_SOLVER_WORKERS", default=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "web3": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
    },
}

# Meters: validation needs this much clean history; CSV uploads from this size go through the Postgres COPY path.
METER_VALIDATION_MIN_DAYS = env.int("METER_VALIDATION_MIN_DAYS", default=30)
METER_VALIDATION_MIN_COMPLETENESS = env.float("METER_VALIDATION_MIN_COMPLETENESS", default=0.90)
METER_BULK_IMPORT_MIN_BYTES = env.int("METER_BULK_IMPORT_MIN_BYTES", default=1_000_000)
# Activation: MQTT broker for device commands, acknowledgement deadline, outbox retry backoff.
MQTT_HOST = env("MQTT_HOST", default="127.0.0.1")
MQTT_PORT = env.int("MQTT_PORT", default=1883)
MQTT_TIMEOUT_SECONDS = env.float("MQTT_TIMEOUT_SECONDS", default=5.0)
# Device topics are <root>/<device_id>/commands|ack|telemetry; environments sharing one broker use their own root.
MQTT_TOPIC_ROOT = env("MQTT_TOPIC_ROOT", default="flex/devices")
# The platform's account on the broker (ADR 0029; ``manage.py mqtt_acl`` writes it with every device's into the
# broker's password file and ACL); empty: anonymous (a broker without authentication, development only).
MQTT_USERNAME = env("MQTT_USERNAME", default="")
MQTT_PASSWORD = env("MQTT_PASSWORD", default="")
MQTT_TLS = env.bool("MQTT_TLS", default=False)
MQTT_CA_FILE = env("MQTT_CA_FILE", default="")
# OCPP 2.0.1 charging-station management endpoint (``manage.py ocpp_server``): where it listens.
OCPP_HOST = env("OCPP_HOST", default="127.0.0.1")
OCPP_PORT = env.int("OCPP_PORT", default=9000)
# OCPP 2.0.1 security profile (ADR 0031): 1 = HTTP Basic authentication of every station (its station id and the
# password issued at registration); 2 = the same over TLS (wss://) with this certificate and key.
OCPP_SECURITY_PROFILE = env.int("OCPP_SECURITY_PROFILE", default=1)
OCPP_TLS_CERT_FILE = env("OCPP_TLS_CERT_FILE", default="")
OCPP_TLS_KEY_FILE = env("OCPP_TLS_KEY_FILE", default="")
DEVICE_ACK_SECONDS = env.int("DEVICE_ACK_SECONDS", default=30)
OUTBOX_BACKOFF_SECONDS = env.int("OUTBOX_BACKOFF_SECONDS", default=5)
# A device command sent but not acknowledged goes out again (same message id) this often until its deadline.
OUTBOX_RESEND_SECONDS = env.int("OUTBOX_RESEND_SECONDS", default=10)
OUTBOX_BACKOFF_MAX_SECONDS = env.int("OUTBOX_BACKOFF_MAX_SECONDS", default=300)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
# An aggregator's portfolio reads over every enrolled premise (compliance, capacity per hour) are kept this long
# per process; a change of enrolments, consents, premises, verifications or memberships recomputes them at once.
PORTFOLIO_KEPT_SECONDS = env.int("PORTFOLIO_KEPT_SECONDS", default=300)
# One S2 session with a household energy manager (battery commands, ADR 0039) gives up after this long.
S2_SESSION_SECONDS = env.float("S2_SESSION_SECONDS", default=10.0)
# Send the outbox right after a dispatch commits (beat also flushes every 5 s).
OUTBOX_FLUSH_ON_COMMIT = env.bool("OUTBOX_FLUSH_ON_COMMIT", default=True)
# OpenADR 3.1.0 notifiers (MQTT binding): notifications published under this topic root on the broker above;
# the broker URI VENs are told in GET /notifiers (default mqtt://MQTT_HOST:MQTT_PORT).
OPENADR_MQTT_NOTIFIER = env.bool("OPENADR_MQTT_NOTIFIER", default=True)
OPENADR_MQTT_TOPIC_ROOT = env("OPENADR_MQTT_TOPIC_ROOT", default="openadr3/3.1.0")
OPENADR_MQTT_BROKER_URI = env("OPENADR_MQTT_BROKER_URI", default="")

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
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

# Anvil's first well-known development key. Production settings refuse it.
ANVIL_DEV_PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-development-key-not-for-production")
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
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.mfa",
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
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.mfa.RequireMFAMiddleware",
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
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Flexibility platform API",
    "DESCRIPTION": "Offers, requests, awards, events, settlements and anchoring for grid operators and aggregators.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
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
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
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
}
# Assessment: the baseline settled against (unless a premise's program says otherwise) and the forecast
# baseline used to assess capacity before the event day (keys of assessment.baselines.compute.METHODS).
ASSESSMENT_BASELINE_METHOD = env("ASSESSMENT_BASELINE_METHOD", default="caiso-10in10")
ASSESSMENT_FORECAST_METHOD = env("ASSESSMENT_FORECAST_METHOD", default="caiso-10in10-unadjusted")
# How market awards pick each resource's settlement baseline: ``most-accurate`` (the method most accurate on the
# resource's like days, re-evaluated monthly; ASSESSMENT_BASELINE_METHOD kept unless clearly beaten) or ``fixed``.
MARKET_BASELINE_POLICY = env("MARKET_BASELINE_POLICY", default="most-accurate")

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
# Confirmed anchors whose block is this recent are re-checked for reorganisations on every run.
CHAIN_REORG_WINDOW_BLOCKS = env.int("CHAIN_REORG_WINDOW_BLOCKS", default=128)
# An hour is anchored once it has ended and this many minutes more have passed.
ANCHOR_GRACE_MINUTES = env.int("ANCHOR_GRACE_MINUTES", default=5)

SETTLEMENT_CURRENCY = env("SETTLEMENT_CURRENCY", default="USD")

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
DEVICE_ACK_SECONDS = env.int("DEVICE_ACK_SECONDS", default=30)
OUTBOX_BACKOFF_SECONDS = env.int("OUTBOX_BACKOFF_SECONDS", default=5)
OUTBOX_BACKOFF_MAX_SECONDS = env.int("OUTBOX_BACKOFF_MAX_SECONDS", default=300)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
# Send the outbox right after a dispatch commits (beat also flushes every 5 s).
OUTBOX_FLUSH_ON_COMMIT = env.bool("OUTBOX_FLUSH_ON_COMMIT", default=True)

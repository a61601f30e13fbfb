"""Settings for the test suite: Postgres and Redis when DATABASE_URL / REDIS_URL say so, else SQLite and eager."""

import os

from .base import *  # noqa: F403
from .base import VAR_DIR, env

(VAR_DIR / "staticfiles").mkdir(parents=True, exist_ok=True)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests use an in-process EVM unless a test asks for anvil explicitly.
CHAIN_RPC_URL = env("TEST_CHAIN_RPC_URL", default="eth-tester://")
CHAIN_CONFIRMATIONS = 0
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tasks run in-process in tests; the worker test switches eager mode off and uses the real Redis broker, and the
# fault tests' worker processes run with CELERY_TASK_ALWAYS_EAGER=false, as production workers do.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
# Tests flush the outbox explicitly (and point it at the broker they want).
OUTBOX_FLUSH_ON_COMMIT = False
# Meter validation needs this many days of clean history. The fixtures' generated history (the small world's
# 21 days) meets 14; the rule itself stays on (tests of the 30-day default override it back).
METER_VALIDATION_MIN_DAYS = env.int("METER_VALIDATION_MIN_DAYS", default=14)
# The broker may be shared with other test runs (same device names): each run talks on its own topics.
MQTT_TOPIC_ROOT = env("MQTT_TOPIC_ROOT", default=f"flex-test-{os.getpid()}/devices")
# The tests' webhook and OpenADR receivers listen on this machine, and fixtures name hosts under the reserved
# ``.example`` domain (RFC 2606): allowed by name (flexplatform/core/egress.py); the SSRF tests empty the list.
CALLBACK_ALLOWED_HOSTS = env.list("CALLBACK_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "::1", ".example"])
# The OpenADR 3.1.0 MQTT notifier is off unless a test turns it on (its messages would join every outbox count).
OPENADR_MQTT_NOTIFIER = env.bool("OPENADR_MQTT_NOTIFIER", default=False)
OPENADR_MQTT_TOPIC_ROOT = env("OPENADR_MQTT_TOPIC_ROOT", default=f"flex-test-{os.getpid()}/openadr3/3.1.0")

# Tests run on the demo's synthetic world (as local settings do); tests of real stations override this.
WEATHER_SOURCES = [*WEATHER_SOURCES, "demo.weather.SyntheticWeather"]  # noqa: F405

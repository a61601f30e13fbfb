"""Production settings: secrets have no default, the public development secrets are refused (here at start-up and
by ``manage.py check --deploy``, flexplatform/core/checks.py), HTTPS everywhere, secure cookies."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import ANVIL_DEV_PRIVATE_KEYS, DEV_SECRET_KEY, env, postgres_jit_off

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
postgres_jit_off(DATABASES["default"])
# No "SELECT 1" before each request's first query (Django's default): after a database restart, each worker's
# first request fails once and its connection is replaced; API clients retry with their Idempotency-Key.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DJANGO_CONN_HEALTH_CHECKS", default=False)
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=env("REDIS_URL"))
CELERY_TASK_ALWAYS_EAGER = False
CHAIN_RPC_URL = env("CHAIN_RPC_URL")
CHAIN_PRIVATE_KEY = env("CHAIN_PRIVATE_KEY")
if CHAIN_PRIVATE_KEY.strip().lower().removeprefix("0x") in {k.removeprefix("0x") for k in ANVIL_DEV_PRIVATE_KEYS}:
    raise ImproperlyConfigured("CHAIN_PRIVATE_KEY is one of anvil's public development keys; set a real key.")
if SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is the development secret key; set a long random value.")
CHAIN_CONFIRMATIONS = env.int("CHAIN_CONFIRMATIONS", default=3)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

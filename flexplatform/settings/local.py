"""The embedded default: SQLite under ``var/``, eager Celery, the local anvil chain. Needs nothing running."""

from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
(VAR_DIR / "staticfiles").mkdir(parents=True, exist_ok=True)
# The demo's webhook and OpenADR receivers run on this machine (flexplatform/core/egress.py).
CALLBACK_ALLOWED_HOSTS = env.list("CALLBACK_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "::1"])

# The demo world's premises have no location: their weather is the synthetic weather their load was made with.
WEATHER_SOURCES = [*WEATHER_SOURCES, "demo.weather.SyntheticWeather"]  # noqa: F405

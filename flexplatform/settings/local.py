"""The embedded default: SQLite under ``var/``, eager Celery, the local anvil chain. Needs nothing running."""

from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
(VAR_DIR / "staticfiles").mkdir(parents=True, exist_ok=True)

# The demo world's premises have no location: their weather is the synthetic weather their load was made with.
WEATHER_SOURCES = [*WEATHER_SOURCES, "demo.weather.SyntheticWeather"]  # noqa: F405

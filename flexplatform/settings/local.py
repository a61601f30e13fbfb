"""The embedded default: SQLite under ``var/``, eager Celery, the local anvil chain. Needs nothing running."""

from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
(VAR_DIR / "staticfiles").mkdir(parents=True, exist_ok=True)

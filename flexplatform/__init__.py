"""The flexibility platform: a Django project for a demand-flexibility marketplace."""

from .celery import app as celery_app

__all__ = ("celery_app",)

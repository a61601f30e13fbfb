"""The Celery application. Broker from settings (Redis); eager when none is configured."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexplatform.settings.local")

app = Celery("flexplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

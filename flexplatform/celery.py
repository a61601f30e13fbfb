"""The Celery application. Broker from settings (Redis); eager when none is configured."""

import os

# One BLAS thread per worker process (set before numpy loads): the workers run one task per process, and the small
# dense solves of the baselines (CalTRACK's normal equations, about 180 x 180) cost several times more CPU when
# OpenBLAS spreads them over threads that spin on a shared core (issue #21: the nightly recompute's CalTRACK fits).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from celery import Celery  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexplatform.settings.local")

app = Celery("flexplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

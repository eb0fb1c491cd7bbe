"""The Celery app for scale-out generation workers: `celery -A simulator worker -Q generate`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "simulator.settings")

app = Celery("simulator")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["simulator.imaging"])

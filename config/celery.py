"""The Celery app. Every beat schedule lives here, in one place."""

import os

from celery import Celery
from celery.schedules import crontab  # noqa: F401  (used by schedules added below)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("relink")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Entries are added by each app's issue; keep them all in this dict.
}

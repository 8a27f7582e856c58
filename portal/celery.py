"""The Celery app: background work (the mail outbox first). Settings are Django's, CELERY_*.

With no ``CELERY_BROKER_URL`` tasks run in-process (the demo, unit tests); production points it
at Redis and runs ``celery -A portal worker`` and ``celery -A portal beat`` (README).
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

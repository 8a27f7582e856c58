"""The Celery app: background work (the mail outbox first). Settings are Django's, CELERY_*.

With no ``CELERY_BROKER_URL`` tasks run in-process (the demo, unit tests); production points it
at Redis and runs ``celery -A portal worker`` and ``celery -A portal beat`` (README).
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_shutdown, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_shutdown.connect
@worker_process_shutdown.connect
def close_kept_smtp(**kwargs) -> None:
    """A worker (the solo pool's process, or each prefork child) going away says QUIT on the
    SMTP connection it kept from task to task (``portal.outbox._KeptSmtp``)."""
    from . import outbox

    outbox.close_kept_smtp()

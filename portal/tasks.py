"""Celery tasks. Each is a thin wrapper over a service function that tests call directly."""

from __future__ import annotations

from celery import shared_task

from . import outbox


@shared_task(ignore_result=True)
def deliver_mail(pk: int) -> str:
    return outbox.deliver(pk)


@shared_task(ignore_result=True)
def sweep_outbox() -> int:
    return len(outbox.sweep())

"""Celery tasks. Each is a thin wrapper over a service function that tests call directly."""

from __future__ import annotations

from celery import shared_task

from . import outbox


@shared_task(ignore_result=True)
def deliver_mail(pk: int) -> str:
    return outbox.deliver(pk)


@shared_task(ignore_result=True)
def deliver_mails(pks: list[int]) -> None:
    """A batch's rows, handed on together (one message on the queue, not one per row)."""
    outbox.deliver_many(pks)


@shared_task(ignore_result=True)
def sweep_outbox() -> int:
    return len(outbox.sweep())

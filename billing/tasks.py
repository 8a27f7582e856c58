"""Celery tasks of billing. Each is a thin wrapper over a service function tests call directly."""

from __future__ import annotations

from celery import shared_task

from . import billmail, importjobs, notices


@shared_task(ignore_result=True)
def run_import(pk: int) -> str:
    return importjobs.run(pk)


@shared_task(ignore_result=True)
def sweep_imports() -> dict[str, int]:
    return importjobs.sweep()


@shared_task(ignore_result=True)
def mail_notice(notice_id: int) -> None:
    """Mail one batch of a notice's members, then queue the next batch as a task of its own."""
    while notices.mail_batch(notice_id):
        if not mail_notice.app.conf.task_always_eager:
            mail_notice.delay(notice_id)
            return
        # In-process (no broker): go on here rather than recurse a task per batch.


@shared_task(ignore_result=True)
def mail_due_notices() -> int:
    """Start the notices whose publish time came, and resume any whose batches stalled."""
    due = notices.due_for_mailing()
    for pk in due:
        notices.start_mailing(pk)
    return len(due)


@shared_task(ignore_result=True)
def mail_bill_ready(utility_id: int) -> None:
    """Mail one batch of a utility's new readings, then queue the next batch as a task."""
    while billmail.mail_batch(utility_id):
        if not mail_bill_ready.app.conf.task_always_eager:
            mail_bill_ready.delay(utility_id)
            return

"""Celery tasks of billing. Each is a thin wrapper over a service function tests call directly."""

from __future__ import annotations

from celery import shared_task

from . import importjobs


@shared_task(ignore_result=True)
def run_import(pk: int) -> str:
    return importjobs.run(pk)


@shared_task(ignore_result=True)
def sweep_imports() -> dict[str, int]:
    return importjobs.sweep()

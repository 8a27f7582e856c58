"""Admin CSV uploads, imported in the background (issue 18).

- ``store`` keeps the upload in the database (``ImportFile``, ~1 MB ``ImportChunk`` rows), so
  every server and worker reaches it and no process holds the whole file; ``start`` writes a
  job and, after commit, queues ``billing.tasks.run_import`` (in-process without a broker).
- ``run`` claims the job (queued → running, one conditional UPDATE), streams the chunks into
  ``import_customers`` / ``import_readings`` / ``import_payments`` and keeps the result (the same lines the
  synchronous page showed). While it runs, a thread of its own (its own database connection,
  outside the import's transaction) writes the rows read so far about once a second; that
  write is also the job's heartbeat.
- Imports of readings take turns (an advisory lock on PostgreSQL). A job whose turn it is not
  does not wait for it inside a worker (two waiting imports would hold every worker, and no
  mail would leave): it stays 待機中 and is queued again after
  ``PORTAL_IMPORT_TURN_SECONDS`` (the sweep hands it on if that is lost).
- What the importer says is stored with control characters shown (``\x00``): PostgreSQL
  stores no NUL, and the line an undecodable file gets must reach staff, not fail the job.
- ``sweep`` (celery beat, every minute) marks 失敗 a job whose heartbeat stopped for longer
  than the lease (its worker died; the import's transaction died with it, so nothing was
  written), hands on jobs the queue lost, and deletes files and jobs older than a day.
"""

from __future__ import annotations

import io
import logging
import threading
import unicodedata
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import Utility

from . import billmail
from .imports import ImportResult, import_customers, import_payments, import_readings
from .imports.readings import READINGS_LOCK
from .models import ImportChunk, ImportFile, ImportJob

logger = logging.getLogger("billing.importjobs")

CHUNK_SIZE = 1 << 20
State = ImportJob.State
KEEP = timedelta(days=1)


def store(upload, kind: str, utility: Utility | None, uploaded_by: str) -> ImportFile:
    """Write an uploaded file (Django's ``UploadedFile``) in chunks; call inside a transaction."""
    stored = ImportFile.objects.create(
        kind=kind, utility=utility, name=upload.name[:255], uploaded_by=uploaded_by
    )
    size, seq, pending = 0, 0, b""
    for piece in upload.chunks(CHUNK_SIZE):
        pending += piece
        while len(pending) >= CHUNK_SIZE:
            ImportChunk.objects.create(file=stored, seq=seq, data=pending[:CHUNK_SIZE])
            size, seq, pending = size + CHUNK_SIZE, seq + 1, pending[CHUNK_SIZE:]
    if pending:
        ImportChunk.objects.create(file=stored, seq=seq, data=pending)
        size += len(pending)
    stored.size = size
    stored.save(update_fields=["size"])
    return stored


def start(stored: ImportFile, *, started_by: str, **options) -> ImportJob:
    """Write a job over ``stored`` and queue it after commit."""
    job = ImportJob.objects.create(file=stored, started_by=started_by, **options)
    transaction.on_commit(lambda: hand_to_worker(job.pk))
    return job


def start_import(checked: ImportJob, *, started_by: str) -> ImportJob:
    """「この内容で取り込む」 after the clean dry run ``checked``: import its stored file with its
    options, once. Pressed again (a double click, a second tab) while that import is queued,
    running or done, it returns that job; after a failed one it starts another."""
    with transaction.atomic():
        # Pressed twice at once: the second waits here for the first (the file's row on
        # PostgreSQL; on SQLite the transaction holds the one write lock from its start).
        ImportFile.objects.select_for_update().filter(pk=checked.file_id).first()
        earlier = (
            checked.file.jobs.filter(dry_run=False, created_at__gte=checked.created_at)
            .exclude(state=State.FAILED)
            .order_by("pk")
            .first()
        )
        return earlier or start(
            checked.file,
            started_by=started_by,
            encoding=checked.encoding,
            dry_run=False,
            replace_overlapping=checked.replace_overlapping,
            hold_mail=checked.hold_mail,
        )


def hand_to_worker(pk: int) -> None:
    """Queue the job; with the broker down it stays 待機中 and the sweep hands it on."""
    from .tasks import run_import

    try:
        run_import.delay(pk)
    except Exception:  # noqa: BLE001 - a broker down (kombu/redis errors): the sweep queues it
        if run_import.app.conf.task_always_eager:
            raise
        logger.warning("import job %s not queued (broker unavailable); the sweep will", pk)


class ChunkReader(io.RawIOBase):
    """The stored file as a binary stream, one chunk in memory at a time."""

    def __init__(self, stored: ImportFile) -> None:
        self.stored, self.seq, self.buffer = stored, 0, memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        if not self.buffer:
            data = (
                ImportChunk.objects.filter(file=self.stored, seq=self.seq)
                .values_list("data", flat=True)
                .first()
            )
            if data is None:
                return 0
            self.buffer, self.seq = memoryview(bytes(data)), self.seq + 1
        count = min(len(target), len(self.buffer))
        target[:count] = self.buffer[:count]
        self.buffer = self.buffer[count:]
        return count


class Reporter:
    """Counts the rows the importer reports and writes them on the job about once a second,
    from a thread with its own connection (the import's own transaction is not committed
    until the end, so nobody would see a progress written through it)."""

    def __init__(self, pk: int) -> None:
        self.pk, self.rows, self.writing = pk, 0, False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"import-job-{pk}", daemon=True)

    def read(self, count: int) -> None:
        self.rows += count

    def done_reading(self) -> None:
        self.writing = True

    def __enter__(self) -> Reporter:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()

    def _loop(self) -> None:
        try:
            while not self.stop.wait(settings.PORTAL_IMPORT_PROGRESS_SECONDS):
                self.write()
        finally:
            connection.close()  # this thread's own

    def write(self) -> None:
        try:
            ImportJob.objects.filter(pk=self.pk, state=State.RUNNING).update(
                rows_read=self.rows, writing=self.writing, heartbeat_at=timezone.now()
            )
        except DatabaseError:  # a busy SQLite: the next second's write says it
            logger.debug("import job %s: progress not written this time", self.pk)


def _eager() -> bool:
    """No broker: the job runs in the request that started it (the demo, unit tests)."""
    from .tasks import run_import

    return bool(run_import.app.conf.task_always_eager)


@contextmanager
def _turn(pk: int, kind: str):
    """Yield whether this job may run now. Readings take turns: on PostgreSQL by trying the
    importer's own advisory lock without waiting (held for the session, so the importer's
    transaction lock is then granted at once; a command-line import holds it too); on SQLite,
    which has one writer anyway, while no other readings job runs. In-process (no broker)
    the request waits for its turn as before: there is no worker to keep free."""
    if kind != ImportFile.Kind.READINGS or _eager():
        yield True
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [READINGS_LOCK])
            got = cursor.fetchone()[0]
        try:
            yield got
        finally:
            if got:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [READINGS_LOCK])
        return
    yield not (
        ImportJob.objects.filter(state=State.RUNNING, file__kind=ImportFile.Kind.READINGS)
        .exclude(pk=pk)
        .exists()
    )


def _wait_for_turn(pk: int) -> str:
    """Leave the job 待機中 (its page: 順番待ち) and queue it again a little later."""
    from .tasks import run_import

    # A queued job's heartbeat_at is when it was last handed on (the sweep's handoff counts
    # from it); the list shows such a job as 順番待ち.
    ImportJob.objects.filter(pk=pk, state=State.QUEUED).update(heartbeat_at=timezone.now())
    try:
        run_import.apply_async((pk,), countdown=settings.PORTAL_IMPORT_TURN_SECONDS)
    except Exception:  # noqa: BLE001 - a broker down: the sweep hands it on
        logger.warning("import job %s not queued again (broker unavailable); the sweep will", pk)
    return "waiting"


def _importer(kind: str):
    # Looked up at each run, not once in a table: tests put a crashing importer in its place.
    return {
        ImportFile.Kind.CUSTOMERS: import_customers,
        ImportFile.Kind.READINGS: import_readings,
        ImportFile.Kind.PAYMENTS: import_payments,
    }[kind]


def run(pk: int) -> str:
    """Run one queued job; return what became of it ("waiting" if not its turn yet)."""
    kind = ImportJob.objects.filter(pk=pk).values_list("file__kind", flat=True).first()
    if kind is None:
        return "taken"
    with _turn(pk, kind) as mine:
        if not mine:
            return _wait_for_turn(pk)
        return _run(pk)


def _run(pk: int) -> str:
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=pk, state=State.QUEUED).update(
        state=State.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        return "taken"  # done, failed, or another worker has it
    job = ImportJob.objects.select_related("file", "file__utility").get(pk=pk)
    importer = _importer(job.file.kind)
    options = (
        {"replace_overlapping": job.replace_overlapping} if importer is import_readings else {}
    )
    try:
        with Reporter(pk) as reporter:
            result = importer(
                io.BufferedReader(ChunkReader(job.file), CHUNK_SIZE),
                encoding=job.encoding or None,
                dry_run=job.dry_run,
                utility=job.file.utility,
                progress=reporter.read,
                writing=reporter.done_reading,
                **options,
            )
    except Exception as exc:
        logger.exception("import job %s failed", pk)
        ImportJob.objects.filter(pk=pk).update(
            state=State.FAILED, finished_at=timezone.now(), failure=_failure(exc)
        )
        return State.FAILED
    shown = as_json(result)
    mailing = None
    if importer is import_readings and result.ok and not result.dry_run:
        utility_ids = None if job.file.utility_id is None else [job.file.utility_id]
        mailing = billmail.utilities_to_mail(utility_ids, job.hold_mail)
        shown["mail"] = billmail.mail_lines(utility_ids, mailing)
    # Even if a sweep took it for dead meanwhile (a very long write): what happened wins.
    ImportJob.objects.filter(pk=pk).update(
        state=State.DONE,
        rows_read=result.rows,
        writing=False,
        result=shown,
        finished_at=timezone.now(),
        failure="",
    )
    if mailing is not None:
        billmail.start(mailing)
    return State.DONE


def _failure(exc: Exception) -> str:
    """Why a job failed, in Japanese (the exception's class is in the log, not for staff)."""
    if isinstance(exc, OperationalError):  # SQLite's "database is locked" after the timeout
        return _(
            "ほかの処理がデータベースに書き込み中だったため、何も書き込みませんでした。"
            "しばらくしてから、もう一度取り込んでください。"
        )
    return _(
        "取り込みの途中でエラーが発生したため、何も書き込みませんでした。"
        "もう一度取り込んでも同じ場合は、システム管理者に連絡してください。"
    )


def visible(text: str) -> str:
    """``text`` with control characters (and lone surrogates) written out as ``\x00`` /
    ``\ud800``: what an undecodable file's line holds can be stored and read by staff."""
    if text.isprintable():
        return text
    return "".join(
        (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        if unicodedata.category(c) in ("Cc", "Cs")
        else c
        for c in text
    )


def as_json(result: ImportResult) -> dict:
    """What the job page shows: the importer's own lines, as the synchronous page showed them."""
    return {
        "ok": result.ok,
        "dry_run": result.dry_run,
        "summary": visible(result.summary()),
        "error_count": result.error_count,
        "errors": [visible(str(error)) for error in result.errors],
        "more_errors": result.more_errors,
        "details": [visible(detail) for detail in result.details()],
    }


def sweep() -> dict[str, int]:
    """Fail jobs whose worker died, queue jobs the queue lost, delete what is over a day old."""
    now = timezone.now()
    lease = timedelta(seconds=settings.PORTAL_IMPORT_LEASE_SECONDS)
    dead = ImportJob.objects.filter(state=State.RUNNING, heartbeat_at__lt=now - lease).update(
        state=State.FAILED,
        finished_at=now,
        writing=False,
        failure=_(
            "取り込みを行っていた処理が止まったため、中断しました。何も書き込まれていません。"
            "もう一度取り込んでください。"
        ),
    )
    handoff = timedelta(seconds=settings.PORTAL_IMPORT_HANDOFF_SECONDS)
    # A queued job's heartbeat_at is when it was last handed on (so each is handed again once
    # per handoff, not at every sweep while it waits behind a long import).
    waiting = ImportJob.objects.filter(state=State.QUEUED).filter(
        Q(heartbeat_at__isnull=True, created_at__lt=now - handoff)
        | Q(heartbeat_at__lt=now - handoff)
    )
    lost = list(waiting.values_list("pk", flat=True))
    ImportJob.objects.filter(pk__in=lost, state=State.QUEUED).update(heartbeat_at=now)
    for pk in lost:
        hand_to_worker(pk)
    old = ImportFile.objects.filter(created_at__lt=now - KEEP).exclude(
        jobs__state__in=[State.QUEUED, State.RUNNING]
    )
    deleted = 0
    for stored in old.iterator():
        ImportChunk.objects.filter(file=stored).delete()  # chunk by chunk's file, not all at once
        stored.delete()
        deleted += 1
    return {"failed": dead, "queued_again": len(lost), "deleted_files": deleted}

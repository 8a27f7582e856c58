"""A real Celery worker (with its beat), a real SMTP hop that can refuse, a private Redis."""

from __future__ import annotations

import contextlib
import email
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from aiosmtpd.controller import Controller
from django.test import override_settings
from kombu import pools

from portal.celery import app

from .conftest import ROOT, _base_env, _database_url, _free_port

HANDOFF_SECONDS = 10


class Sink:
    """An SMTP server keeping the X-Portal-Mail-Key of each mail it accepted with a 250.

    ``refuse[address] = (reply, times)`` answers RCPT with ``reply`` (``times`` times, or
    always if None) before accepting that address.
    """

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.arrivals: list[float] = []  # when each was accepted (wall clock, for rates)
        self.refuse: dict[str, tuple[str, int | None]] = {}
        self.lock = threading.Lock()
        self.port = _free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            rule = self.refuse.get(address)
            if rule is not None:
                reply, times = rule
                if times is None or times > 0:
                    if times is not None:
                        self.refuse[address] = (reply, times - 1)
                    return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        key = email.message_from_bytes(envelope.content)["X-Portal-Mail-Key"]
        with self.lock:
            self.keys.append(key)
            self.arrivals.append(time.time())
        return "250 Message accepted for delivery"

    def counts(self) -> Counter:
        """How many times each row key came (the header is an HMAC of it)."""
        return Counter(self.in_order())

    def in_order(self) -> list[str]:
        """The row keys of the mails, in the order they came."""
        from portal.models import OutboxMail
        from portal.outbox import mail_key_header

        with self.lock:
            headers = list(self.keys)
        with override_settings(SECRET_KEY=_base_env()["SECRET_KEY"]):  # the workers' key
            keys = {mail_key_header(k): k for k in OutboxMail.objects.values_list("key", flat=True)}
        return [keys.get(header, header) for header in headers]


class Worker:
    """``celery -A portal worker -B`` (solo pool: one process, one mail at a time).

    ``-B`` runs beat in a child process: a ``kill -9`` of the worker alone left that child
    running, sweeping into the next tests (CI found five after a PostgreSQL run). Each start
    is a session of its own, and kill and stop end the whole process group.
    """

    # The session (= the process group, = its first pid) of every worker started, for
    # ``left_behind``.
    sessions: list[int] = []

    def __init__(self, broker_url: str, sink: Sink, workdir: Path, beat: bool = True) -> None:
        self.beat = beat
        self.env = {
            **os.environ,
            **_base_env(),
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": broker_url,
            "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}",
            # Short waits so a test sees a retry, a lease run out and a sweep within seconds.
            "PORTAL_OUTBOX_RETRY_SECONDS": "1",
            "PORTAL_OUTBOX_LEASE_SECONDS": "5",
            "PORTAL_OUTBOX_HANDOFF_SECONDS": str(HANDOFF_SECONDS),
            "PORTAL_OUTBOX_SWEEP_SECONDS": "1",
        }
        self.workdir = workdir
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = self.workdir / f"worker-{id(self)}-{self.starts}.log"
        self.log = log
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                *(["-B", "-s", str(self.workdir / "beat-schedule")] if self.beat else []),
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"outbox-test-{id(self)}-{self.starts}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        Worker.sessions.append(self.process.pid)
        deadline = time.monotonic() + 60
        while " ready." not in log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)

    def kill(self) -> None:
        """``kill -9`` of the worker and its beat: no clean-up, no ack, no 'sent' for the mail
        in hand."""
        _kill_group(self.process.pid)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """A warm shutdown (SIGTERM: the worker stops its beat); whatever of its group is
        still there after that is killed."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        _kill_group(self.process.pid)
        self.process.wait(timeout=10)

    def processes(self) -> list[int]:
        """The live processes of this worker's session (the worker, its beat)."""
        return in_sessions([self.process.pid]) if self.process else []


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def in_sessions(sessions: list[int]) -> list[int]:
    """Live (not zombie) processes whose session is one of ``sessions``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # pid (comm) state ppid pgrp session ...; comm may hold spaces and parentheses.
        state, _ppid, _pgrp, session = stat[stat.rindex(")") + 2 :].split()[:4]
        if state != "Z" and int(session) in sessions:
            found.append(int(entry.name))
    return found


def left_behind() -> list[str]:
    """The command lines of processes of a started worker's session still alive; kills them."""
    pids = in_sessions(Worker.sessions)
    lines = []
    for pid in pids:
        with contextlib.suppress(OSError):
            lines.append(
                f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            )
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return lines


class PrivateRedis:
    """A redis-server of the test's own on a free port, to stop and start (never the shared one)."""

    def __init__(self, workdir: Path) -> None:
        self.binary = shutil.which("redis-server")
        self.port = _free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
            + ["--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.5).ping():
                    return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextlib.contextmanager
def publishing_to(broker_url: str):
    """Make this (test) process publish tasks to ``broker_url`` as a web server does, instead
    of running them in-process as the test settings do."""
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}

    def fresh_pools() -> None:
        # Connections made for the last URL (perhaps to a Redis since stopped) are dropped.
        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.update(broker_url=broker_url, task_always_eager=False)
    fresh_pools()
    try:
        # As the worker's: a row the queue lost is swept after 10 s, not a minute.
        with override_settings(PORTAL_OUTBOX_HANDOFF_SECONDS=HANDOFF_SECONDS):
            yield
    finally:
        fresh_pools()
        app.conf.update(saved)


def wait_until(condition, timeout: float, what: str, worker: Worker | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            log = worker.log.read_text()[-4000:] if worker else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{log}")
        time.sleep(0.2)

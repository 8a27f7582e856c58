"""Bill-ready mail at scale: 2 Celery workers against the floor of one smtplib connection.

    .venv/bin/python -m bench.mail                  # 100,000 members, one bill-ready mail each
    .venv/bin/python -m bench.mail --mails 10000    # a quick look
    .venv/bin/python -m bench.mail --rate 600       # the utility's 「メール送信の上限(通/分)」
    .venv/bin/python -m bench.mail --mails 2000 --profile   # where a worker's time goes

It fills its own PostgreSQL database (``bench_mail``, or ``--database``): one utility, N
contracts each with a recent reading and one member. Then, in one run:

1. write: the bill-ready pass (``billing.billmail.mail_batch`` until done), timed; its rows
   are handed to the queue (Redis, ``--broker``, emptied first) with no worker running yet;
2. floor: the same messages, prepared first (Django's ``EmailMessage`` as bytes), sent by this
   one process over one reused ``smtplib`` connection to a local aiosmtpd sink;
3. workers: 2 ``celery worker --pool solo`` processes with production settings empty the
   queue into another sink; a worker's resident memory (VmRSS) is sampled every 0.2 s and its
   peak printed when the sink has 10,000 mails and at the end.

It prints mails/s of both and their ratio (target ≥ 0.5×), the workers' peak RSS at 10,000 and
N (target: flat), duplicates and lost counted at the sink by ``X-Portal-Mail-Key`` (target 0
and 0), the most mails the sink took in any window of ``PORTAL_OUTBOX_RATE_WINDOW_SECONDS``
against the utility's rate, the workers' CPU time a mail and the SMTP connections they
opened, and the load average. Figures only: nothing passes or fails.

``--profile`` replaces step 3: this process sends every row as a worker would
(``portal.tasks.deliver_mails``, a task's rows a call) to a sink in a process of its own: the
first half timed (mails/s, CPU a mail), the second under cProfile; it prints those, the
database queries a mail and the 15 functions with the most time of their own.
"""

from __future__ import annotations

import argparse
import datetime
import email
import os
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from aiosmtpd.controller import Controller

from bench import pages

DATABASE = "bench_mail"
WORKERS = 2
BROKER = "redis://127.0.0.1:6379/13"
CHUNK = 5_000


class Sink:
    """An SMTP server that counts each accepted mail's X-Portal-Mail-Key and when it came."""

    def __init__(self, port: int) -> None:
        self.keys: Counter = Counter()
        self.arrivals: list[float] = []
        self.connections: set = set()  # the peers mails came from: one a connection
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server, session, envelope):
        key = email.message_from_bytes(envelope.content)["X-Portal-Mail-Key"]
        with self.lock:
            self.keys[key] += 1
            self.arrivals.append(time.monotonic())
            self.connections.add(session.peer)
        return "250 OK"

    def total(self) -> int:
        with self.lock:
            return len(self.arrivals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=None, help="the utility's mails a minute")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--broker", default=BROKER, help="a Redis database for the queue")
    parser.add_argument(
        "--profile", action="store_true", help="profile the sending in this process instead"
    )
    args = parser.parse_args()
    pages.use_database(args.database)
    env = {
        **pages._environment(),
        "CELERY_BROKER_URL": args.broker,
        "PORTAL_OUTBOX_HANDOFF_SECONDS": "3600",  # nothing is handed twice during the run
        "PORTAL_BASE_URL": "https://portal.example.jp",
    }
    os.environ.update(env)
    if str(pages.ROOT) not in sys.path:
        sys.path.insert(0, str(pages.ROOT))
    import django

    django.setup()
    import redis

    redis.Redis.from_url(args.broker).flushdb()
    pages._recreate_database()
    pages._manage(env, "migrate", "--noinput", "-v0")
    utility = _fill(args.mails, args.rate)

    from billing import billmail
    from portal.models import OutboxMail

    started = time.perf_counter()
    batches = 0
    while billmail.mail_batch(utility.pk):
        batches += 1
    written = time.perf_counter() - started
    count = OutboxMail.objects.count()
    print(f"write: {count:,} outbox rows in {written:.1f} s ({count / written:,.0f}/s)")

    prepared = _prepare()
    floor_sink = Sink(pages._free_port())
    floor_sink.controller.start()
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", floor_sink.controller.port) as smtp:
        for sender, recipient, message in prepared:
            smtp.sendmail(sender, [recipient], message)
    floor = time.perf_counter() - started
    floor_sink.controller.stop()
    del prepared
    if args.profile:
        _profile(count, floor)
        return

    sink = Sink(pages._free_port())
    sink.controller.start()
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-mail-") as tmp:
        worker_env = {**os.environ, **env, "EMAIL_URL": f"smtp://127.0.0.1:{sink.controller.port}"}
        if args.rate:  # mails over the rate wait for a later window: beat's sweep sends them
            worker_env["PORTAL_OUTBOX_SWEEP_SECONDS"] = "5"
        workers = [
            _start_worker(worker_env, Path(tmp), n, beat=bool(args.rate) and n == 0)
            for n in range(WORKERS)
        ]
        peak: dict[str, int] = {}
        current = [0]

        def sample() -> None:
            while all(w.poll() is None for w in workers):
                rss = max(_rss_kib(w.pid) for w in workers)
                current[0] = max(current[0], rss)
                first = f"{min(10_000, count):,}"
                if sink.total() >= min(10_000, count) and first not in peak:
                    peak[first] = current[0]
                time.sleep(0.2)

        started = time.perf_counter()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        deadline = time.monotonic() + max(1800, count / 5)
        while (
            OutboxMail.objects.filter(status=OutboxMail.Status.SENT).count() < count
            and time.monotonic() < deadline
        ):
            time.sleep(0.5)
        sent = time.perf_counter() - started
        peak[f"{count:,}"] = current[0]
        cpu = sum(_cpu_seconds(w.pid) for w in workers)
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
    sink.controller.stop()
    _report(args, utility, count, floor, sent, sink, peak, load_at_start, cpu)


def _profile(count: int, floor: float) -> None:
    """Send every row as a worker's task does, in this process: the first half timed (mails/s
    and this process's CPU a mail), the second under cProfile. The sink runs in a process of
    its own, as it does for the workers: in this one it would share the GIL and the CPU
    figures, and its replies would wait for the sender's Python."""
    import cProfile
    import multiprocessing
    import pstats

    from django.conf import settings
    from django.db import connection

    from portal import outbox, tasks
    from portal.models import OutboxMail

    spawn = multiprocessing.get_context("spawn")
    port, ready, stop, received = pages._free_port(), spawn.Event(), spawn.Event(), spawn.Value("i")
    sink = spawn.Process(target=_sink_process, args=(port, ready, stop, received), daemon=True)
    sink.start()
    if not ready.wait(30):
        sys.exit("the sink did not start")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    pks = list(OutboxMail.objects.order_by("pk").values_list("pk", flat=True))
    half = len(pks) // 2
    size = outbox.HAND_ON_TOGETHER  # as the rows of a batch are handed to the workers' tasks
    chunks = [pks[n : min(n + size, half)] for n in range(0, half, size)]
    profiled = [pks[n : n + size] for n in range(half, len(pks), size)]
    queries = [0]

    def counted(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        started, cpu = time.perf_counter(), time.process_time()
        for chunk in chunks:
            tasks.deliver_mails(chunk)
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
        profiler = cProfile.Profile()
        profiler.enable()
        for chunk in profiled:
            tasks.deliver_mails(chunk)
        profiler.disable()
    stop.set()
    sink.join(30)
    print(f"floor: {count / floor:,.0f} mails/s")
    print(
        f"one process as a worker: {half / took:,.0f} mails/s, {cpu / half * 1000:.2f} ms CPU "
        f"a mail ({half:,} mails unprofiled), {queries[0] / count:.2f} queries a mail "
        "through Django (not the marks a worker sends over libpq), "
        f"{received.value:,} at the sink"
    )
    print(f"the other {count - half:,} under cProfile:")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    print(f"load average: {os.getloadavg()[0]:.2f}")


def _sink_process(port: int, ready, stop, received) -> None:
    """A ``Sink`` in a process of its own until ``stop``; ``received`` gets its count."""
    sink = Sink(port)
    sink.controller.start()
    ready.set()
    stop.wait()
    received.value = sink.total()
    sink.controller.stop()


def _fill(mails: int, rate: int | None):
    """One utility, ``mails`` contracts with a reading read yesterday and one member each."""
    from django.utils import timezone

    from accounts.models import ContractLink, Member
    from billing.models import Customer, MeterReading
    from portal.models import Utility

    utility = pages._bench_utility(Utility)
    utility.mail_rate_per_minute = rate
    utility.save()
    today = timezone.localdate()
    end = today - datetime.timedelta(days=1)
    start = end - datetime.timedelta(days=30)
    for first in range(0, mails, CHUNK):
        numbers = range(first, min(first + CHUNK, mails))
        customers = Customer.objects.bulk_create(
            Customer(
                utility=utility,
                number=f"{n + 1:0{pages.DIGITS}d}",
                name="水道 太郎",
                name_kana="スイドウ タロウ",
                address=f"ベンチ市本町{n}",
                phone=f"03{n:08d}",
                meter_diameter_mm=20,
                meter_number=str(n),
            )
            for n in numbers
        )
        MeterReading.objects.bulk_create(
            MeterReading(
                customer=c,
                period_start=start,
                period_end=end,
                read_on=end,
                previous_index=100,
                current_index=120,
                usage_m3=20,
                water_charge=3000,
                sewer_charge=2000,
                tax=454,
                total=5000,
            )
            for c in customers
        )
        members = Member.objects.bulk_create(
            Member(
                utility=utility,
                login_id=f"m{n}",
                email=f"m{n}@example.jp",
                name="水道 太郎",
                phone="0312345678",
                status=Member.Status.ACTIVE,
                password="!",
            )
            for n in numbers
        )
        ContractLink.objects.bulk_create(
            ContractLink(member=m, customer=c) for m, c in zip(members, customers, strict=True)
        )
    print(f"filled {mails:,} contracts, readings and members")
    return utility


def _prepare() -> list[tuple[str, str, bytes]]:
    """Each outbox row as the worker would send it, built before the floor's clock starts."""
    from django.core.mail import EmailMessage
    from django.core.mail.message import sanitize_address

    from portal import outbox
    from portal.models import OutboxMail

    rows = OutboxMail.objects.values_list("key", "sender", "recipient", "subject", "body")
    prepared = []
    for key, sender, recipient, subject, body in rows.iterator(chunk_size=CHUNK):
        message = EmailMessage(
            subject,
            body,
            sender,
            [recipient],
            headers={"X-Portal-Mail-Key": outbox.mail_key_header(key)},
        )
        prepared.append(
            (
                sanitize_address(sender, "utf-8"),
                sanitize_address(recipient, "utf-8"),
                message.message().as_bytes(linesep="\r\n"),  # as Django's SMTP backend sends
            )
        )
    return prepared


def _start_worker(env: dict, tmp: Path, n: int, beat: bool) -> subprocess.Popen:
    log = tmp / f"worker-{n}.log"
    process = subprocess.Popen(
        [
            pages.PYTHON,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            *(["-B", "-s", str(tmp / "beat-schedule")] if beat else []),
            "-n",
            f"bench-mail-{n}@%h",
        ],
        cwd=pages.ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    return process


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) a process has used so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    utime, stime = stat[stat.rindex(")") + 2 :].split()[11:13]
    return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")


def _report(args, utility, count, floor, sent, sink, peak, load_at_start, cpu) -> None:
    from django.conf import settings

    with sink.lock:
        keys, arrivals = Counter(sink.keys), sorted(sink.arrivals)
    duplicates = sum(keys.values()) - len(keys)
    lost = count - len(keys)
    window = settings.PORTAL_OUTBOX_RATE_WINDOW_SECONDS
    most, j = 0, 0
    for i, at in enumerate(arrivals):
        while arrivals[j] <= at - window:
            j += 1
        most = max(most, i - j + 1)
    # From the first mail at the sink to the last: the workers' start-up is not sending.
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else sent
    floor_rate, worker_rate = count / floor, (len(arrivals) - 1) / span
    print(f"floor (1 process, 1 smtplib connection): {floor_rate:,.0f} mails/s")
    print(
        f"{WORKERS} workers: {worker_rate:,.0f} mails/s, ratio {worker_rate / floor_rate:.2f}x "
        "(target >= 0.5x)"
    )
    print(
        f"workers' CPU: {cpu / count * 1000:.2f} ms a mail (start-up included); "
        f"SMTP connections at the sink: {len(sink.connections):,}"
    )
    print("peak worker RSS: " + ", ".join(f"{k} mails {v / 1024:.0f} MiB" for k, v in peak.items()))
    from portal.models import OutboxMail

    unsent = OutboxMail.objects.exclude(status=OutboxMail.Status.SENT).count()
    print(
        f"at the sink: {len(keys):,} distinct keys, duplicates {duplicates}, lost {lost - unsent}"
    )
    if unsent:
        print(f"the run stopped at its deadline with {unsent:,} rows still to send (not lost)")
    limit = f"{utility.mail_rate_per_minute}/min" if utility.mail_rate_per_minute else "no limit"
    print(f"most mails in any {window} s window: {most:,} (utility's rate: {limit})")
    print(f"load average: {load_at_start:.2f} at the workers' start, {os.getloadavg()[0]:.2f} now")


if __name__ == "__main__":
    main()

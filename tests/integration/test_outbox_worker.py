"""The outbox with a real Celery worker, a real Redis and a real SMTP hop (issue 18).

Each test runs a worker (with its beat, sweeping every second) against PostgreSQL, as a
second machine would: it needs nothing but the same settings.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import MemberEvent
from portal.models import OutboxMail
from portal.outbox import Mail, enqueue_mail, enqueue_mails
from tests.factories import MemberFactory, UtilityFactory

from .conftest import REDIS_URL
from .worker import PrivateRedis, Sink, Worker, publishing_to, wait_until

Status = OutboxMail.Status
# The shared Redis's database for these tests' queue (not the cache's).
BROKER_URL = os.environ.get("PORTAL_TEST_BROKER_URL", REDIS_URL.rsplit("/", 1)[0] + "/9")


def _needs_postgres_and_redis(url: str) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a worker process shares PostgreSQL with the test; .ci/run runs it there")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"needs Redis at {url}; .ci/run starts one")


@pytest.fixture
def sink():
    sink = Sink()
    sink.controller.start()
    yield sink
    sink.controller.stop()


@pytest.fixture
def worker(transactional_db, sink, tmp_path):
    _needs_postgres_and_redis(BROKER_URL)
    import redis

    redis.Redis.from_url(BROKER_URL).flushdb()
    worker = Worker(BROKER_URL, sink, tmp_path)
    try:
        with publishing_to(BROKER_URL):
            yield worker
    finally:
        worker.stop()


def write(utility, count: int, prefix: str, member=None) -> list[OutboxMail]:
    """One transaction writing ``count`` mails, as a batch of notices would."""
    about = member or MemberFactory(utility=utility)
    with transaction.atomic():
        return [
            enqueue_mail(
                utility,
                f"{prefix}{n}@example.jp",
                "accounts/password_changed",
                {"member": about},
                key=f"{prefix}:{n}",
                member=member,
            )
            for n in range(count)
        ]


def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_at_most_one_each(worker, sink):
    utility = UtilityFactory()
    worker.start()
    write(utility, 1000, "batch")
    kills = 0
    for goal in (150, 500):
        wait_until(lambda goal=goal: sum(sink.counts().values()) >= goal, 120, f"{goal} mails")
        worker.kill()  # kill -9 in the middle of the batch
        kills += 1
        worker.start()
    wait_until(
        lambda: OutboxMail.objects.filter(status=Status.SENT).count() == 1000,
        180,
        "every mail marked sent",
    )
    counts = sink.counts()
    assert len(counts) == 1000  # every key arrived
    duplicates = sum(counts.values()) - len(counts)
    assert duplicates <= kills, counts.most_common(3)
    assert not OutboxMail.objects.exclude(status=Status.SENT).exists()


def test_a_worker_killed_amid_claimed_batches_duplicates_at_most_one_mail_a_kill(worker, sink):
    """A task's rows (100) are claimed together: a kill leaves the unsent ones 送信中 until the
    lease runs out, then the sweep hands them on; each mail arrives, at most one twice a kill."""
    utility = UtilityFactory()
    about = MemberFactory(utility=utility)
    worker.start()
    with transaction.atomic():
        enqueue_mails(
            utility,
            [
                Mail(f"b{n}@example.jp", "accounts/password_changed", {"member": about}, f"b:{n}")
                for n in range(600)
            ],
        )
    kills = 0
    for goal in (110, 330):
        wait_until(lambda goal=goal: sum(sink.counts().values()) >= goal, 120, f"{goal} mails")
        worker.kill()
        kills += 1
        worker.start()
    wait_until(
        lambda: OutboxMail.objects.filter(status=Status.SENT).count() == 600,
        180,
        "every mail marked sent",
    )
    counts = sink.counts()
    assert len(counts) == 600
    assert sum(counts.values()) - len(counts) <= kills, counts.most_common(3)


def test_a_killed_worker_leaves_no_beat_behind(worker):
    """``kill -9`` of a worker run with ``-B`` killed it alone: its beat process went on
    sweeping, a second beat beside the next worker's, and outlived the test run."""
    worker.start()
    wait_until(lambda: len(_family(worker.process.pid)) >= 2, 30, "the worker's beat", worker)
    family = _family(worker.process.pid)
    worker.kill()
    wait_until(lambda: not _alive(family), 10, f"every process of the worker ({family}) gone")


def _family(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
            if state != "Z":
                parents[int(entry.name)] = int(ppid)
    family = [pid]
    for child, parent in sorted(parents.items()):
        if parent in family:
            family.append(child)
    return [p for p in family if p in parents]


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2] != "Z":
            alive.append(pid)
    return alive


def test_redis_down_during_sending_loses_nothing(transactional_db, sink, tmp_path):
    _needs_postgres_and_redis(REDIS_URL)  # redis-server is on this machine
    if shutil.which("redis-server") is None:
        pytest.skip("needs the redis-server program to start a Redis of its own")
    broker = PrivateRedis(tmp_path)
    broker.start()
    worker = Worker(broker.url, sink, tmp_path)
    utility = UtilityFactory()
    try:
        with publishing_to(broker.url):
            worker.start()
            write(utility, 20, "before")
            wait_until(lambda: len(sink.counts()) == 20, 60, "the first 20 mails")
            broker.stop()
            # The requests go on: the rows are written, handing them over fails quietly.
            write(utility, 20, "during")
            assert OutboxMail.objects.filter(status=Status.PENDING).count() == 20
            broker.start()  # same port: the worker and its beat reconnect
            wait_until(lambda: len(sink.counts()) == 40, 120, "the 20 written while down")
    finally:
        worker.stop()
        broker.stop()
    counts = sink.counts()
    assert sorted(counts) == sorted(
        [f"before:{n}" for n in range(20)] + [f"during:{n}" for n in range(20)]
    )
    assert set(counts.values()) == {1}


def test_a_4xx_is_tried_again_and_a_5xx_fails_visible_to_staff_and_member(worker, sink):
    utility = UtilityFactory()
    member = MemberFactory(utility=utility, email="gone0@example.jp")
    sink.refuse["grey0@example.jp"] = ("451 4.7.1 Greylisted, try again later", 2)
    sink.refuse["gone0@example.jp"] = ("550 5.1.1 No such user", None)
    worker.start()
    grey = write(utility, 1, "grey")[0]
    gone = write(utility, 1, "gone", member=member)[0]
    wait_until(
        lambda: OutboxMail.objects.filter(pk=grey.pk, status=Status.SENT).exists(),
        60,
        "the greylisted mail to go on its third try",
        worker,
    )
    wait_until(
        lambda: OutboxMail.objects.filter(pk=gone.pk, status=Status.FAILED).exists(),
        60,
        "the refused mail to fail",
        worker,
    )
    grey.refresh_from_db()
    gone.refresh_from_db()
    assert grey.attempts == 3
    assert (gone.attempts, gone.last_error) == (1, "550 5.1.1 No such user")
    assert sink.counts() == {"grey:0": 1}
    event = MemberEvent.objects.get(member=member, action="mail_failed")
    assert event.detail == {"mail": "password_changed", "reply": "550 5.1.1 No such user"}


def test_two_workers_keep_to_the_utilitys_rate_and_fail_nothing_for_it(worker, sink, tmp_path):
    """「メール送信の上限」 60 通/分, counted in 5-second windows (5 a window) in the shared
    Redis by two worker processes: 20 mails take at least three windows, none fails."""
    window = 5
    second = Worker(BROKER_URL, sink, tmp_path, beat=False)
    for one in (worker, second):
        one.env.update(CACHE_URL=REDIS_URL, PORTAL_OUTBOX_RATE_WINDOW_SECONDS=str(window))
    utility = UtilityFactory(mail_rate_per_minute=60)
    try:
        worker.start()
        second.start()
        write(utility, 20, "rated")
        waited = []
        wait_until(
            lambda: (
                waited.append(OutboxMail.objects.filter(status=Status.PENDING, attempts=0).count())
                or len(sink.counts()) == 20
            ),
            120,
            "every rated mail",
            worker,
        )
    finally:
        second.stop()
    arrivals = sorted(sink.arrivals)
    assert set(sink.counts().values()) == {1}
    assert not OutboxMail.objects.exclude(status=Status.SENT).exists()
    assert max(waited) >= 10  # most waited as pending, untried, while the first went
    # A fixed window lets at most twice its share through in any span of its length, so 11
    # mails span three windows (less the time a send takes: half a window is room enough);
    # without the rate, 20 mails go in about a second.
    for first, last in zip(arrivals, arrivals[10:], strict=False):
        assert last - first >= window / 2, arrivals
    assert arrivals[-1] - arrivals[0] >= window, arrivals


def test_a_reset_code_overtakes_a_rate_held_backlog_and_clearing_the_rate_sends_it(worker, sink):
    """The outside attack on #18: signups queued far beyond a utility's 1 通/分 held a reset
    code's mail past its deadline, and clearing the rate still left them waiting. With a real
    worker: the code goes at once, and clearing the rate sends the backlog at once."""
    worker.env.update(CACHE_URL=REDIS_URL)
    utility = UtilityFactory(mail_rate_per_minute=1)
    worker.start()
    write(utility, 30, "signup")
    wait_until(
        lambda: OutboxMail.objects.filter(status=Status.PENDING, attempts=0).count() >= 29,
        60,
        "the backlog held by the rate",
        worker,
    )
    member = MemberFactory(utility=utility, email="reset@example.jp")
    with transaction.atomic():
        enqueue_mail(
            utility,
            member.email,
            "accounts/password_reset_code",
            {
                "member": member,
                "code": "123456",
                "expires_at": timezone.now() + timedelta(minutes=10),
            },
            key="password_reset_code:attack",
            member=member,
        )
    wait_until(lambda: "password_reset_code:attack" in sink.counts(), 30, "the code", worker)
    assert OutboxMail.objects.filter(key__startswith="signup:", status=Status.PENDING).count() >= 28

    utility.mail_rate_per_minute = None
    utility.save()
    wait_until(
        lambda: len(sink.counts()) == 31, 30, "the backlog released by clearing the rate", worker
    )
    assert set(sink.counts().values()) == {1}


def test_a_code_queued_after_a_bill_ready_backlog_is_taken_first(worker, sink):
    """a19 F4: a signup code waited 42 s behind 41 bill-ready mails in the one queue. Codes
    go on the "urgent" queue, which a plain worker reads first (prefetching one task)."""
    utility = UtilityFactory()
    member = MemberFactory(utility=utility)
    write(utility, 40, "backlog", member=member)  # 40 tasks on the default queue
    with transaction.atomic():
        enqueue_mail(
            utility,
            "new@example.jp",
            "accounts/signup_code",
            {"code": "123456", "expires_at": timezone.now() + timedelta(minutes=30)},
            key="signup_code:queued-last",
        )
    worker.start()  # finds 41 tasks waiting
    wait_until(lambda: len(sink.counts()) == 41, 60, "every mail", worker)
    assert sink.in_order()[0] == "signup_code:queued-last"

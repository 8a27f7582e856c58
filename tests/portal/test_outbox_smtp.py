"""The outbox over a real SMTP hop (issue 19): a worker keeps its connection from task to task,
replaces one the server dropped, and sends exactly the bytes Django's SMTP backend would."""

from __future__ import annotations

import email
import re
import socket
import threading
import time
from contextlib import contextmanager

import pytest
from aiosmtpd.controller import Controller
from django.db import DatabaseError, connection, transaction
from django.test import override_settings

from portal import celery as portal_celery
from portal import mailreasons, outbox
from portal.models import OutboxMail
from tests.factories import MemberFactory, UtilityFactory

pytestmark = pytest.mark.django_db
Status = OutboxMail.Status


class Sink:
    """An SMTP server noting each connection a mail came over, and each QUIT.

    ``refuse[address] = reply`` answers RCPT with it; ``refuse_mail_from`` answers the next
    MAIL FROM with it once (a server closing an idle session says 421 there)."""

    def __init__(self) -> None:
        self.mails: list[tuple[tuple, bytes]] = []  # (the connection's peer, the message)
        self.quits = 0
        self.refuse: dict[str, str] = {}
        self.refuse_mail_from: str | None = None
        self.on_data = None  # called with each message before its 250
        self.servers: list = []
        self.lock = threading.Lock()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.lock:
            if server not in self.servers:
                self.servers.append(server)
            reply, self.refuse_mail_from = self.refuse_mail_from, None
        if reply:
            return reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.on_data is not None:
            self.on_data(envelope.content)
        with self.lock:
            self.mails.append((session.peer, envelope.content))
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server, session, envelope):
        with self.lock:
            self.quits += 1
        return "221 Bye"

    def keys(self) -> list[str]:
        return [key_of(m) for _, m in self.mails]

    def connections(self) -> int:
        return len({peer for peer, _ in self.mails})

    def hang_up(self) -> None:
        """Close every open session from the server's side (a restart, an idle timeout)."""
        done = threading.Event()

        def close() -> None:
            for server in self.servers:
                if server.transport is not None:
                    server.transport.close()
            done.set()

        self.controller.loop.call_soon_threadsafe(close)
        assert done.wait(5)


# The row key of each X-Portal-Mail-Key written by ``written`` (the header is an HMAC of it).
_KEYS: dict[str, str] = {}


def key_of(message: bytes) -> str:
    header = email.message_from_bytes(message)["X-Portal-Mail-Key"]
    return _KEYS.get(header, header)


@pytest.fixture
def sink():
    sink = Sink()
    sink.controller.start()
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=sink.port,
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        EMAIL_USE_TLS=False,
        EMAIL_USE_SSL=False,
        EMAIL_TIMEOUT=10,
    ):
        try:
            yield sink
        finally:
            outbox.close_kept_smtp()
            sink.controller.stop()


@pytest.fixture
def clock(monkeypatch):
    """The monotonic clock the kept connection's idle time is read on, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(outbox, "_clock", lambda: now[0])
    return now


def written(utility, count: int, prefix: str) -> list[int]:
    """``count`` rows written but not handed on (a test hands them to ``deliver_many``)."""
    member = MemberFactory(utility=utility)
    mails = [
        outbox.Mail(
            f"{prefix}{n}@example.jp",
            "accounts/password_changed",
            {"member": member},
            f"{prefix}:{n}",
        )
        for n in range(count)
    ]
    _KEYS.update((outbox.mail_key_header(m.key), m.key) for m in mails)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(outbox, "hand_many_to_workers", lambda pks: None)
        with transaction.atomic():
            outbox.enqueue_mails(utility, mails)
    return list(
        OutboxMail.objects.filter(key__startswith=f"{prefix}:")
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def test_a_workers_tasks_go_over_one_kept_smtp_connection(utility, sink):
    """Each 20-mail task opened its own connection: as many round trips as two mails."""
    for task in range(3):
        pks = written(utility, 5, f"t{task}")
        assert outbox.deliver_many(pks) == dict.fromkeys(pks, Status.SENT)
    assert len(sink.keys()) == 15
    assert sink.connections() == 1
    assert sink.quits == 0
    portal_celery.close_kept_smtp()  # the worker shutting down (celery's signal)
    assert sink.quits == 1


def test_a_kept_connection_the_server_dropped_is_replaced_and_each_mail_goes_once(
    utility, sink, clock
):
    outbox.deliver_many(written(utility, 2, "before"))
    sink.hang_up()
    pks = written(utility, 2, "after")
    assert outbox.deliver_many(pks) == dict.fromkeys(pks, Status.SENT)
    assert sorted(sink.keys()) == ["after:0", "after:1", "before:0", "before:1"]
    assert sink.connections() == 2
    # Nothing of the mail went over the dropped connection: no try is counted for it.
    assert set(OutboxMail.objects.values_list("status", "attempts", "last_error")) == {
        (Status.SENT, 1, "")
    }


def test_a_421_at_the_first_command_of_a_kept_connection_opens_a_fresh_one(utility, sink, clock):
    outbox.deliver_many(written(utility, 1, "before"))
    sink.refuse_mail_from = "421 4.4.2 Idle too long, closing"
    pks = written(utility, 1, "after")
    assert outbox.deliver_many(pks) == {pks[0]: Status.SENT}
    assert sorted(sink.keys()) == ["after:0", "before:0"]
    assert OutboxMail.objects.get(pk=pks[0]).attempts == 1


def test_a_421_on_a_fresh_connection_is_a_try_for_later(utility, sink, clock):
    sink.refuse_mail_from = "421 4.3.2 Too busy"
    pks = written(utility, 2, "busy")
    assert outbox.deliver_many(pks) == {pks[0]: Status.PENDING, pks[1]: Status.SENT}
    assert OutboxMail.objects.get(pk=pks[0]).last_error == "421 4.3.2 Too busy"
    assert sink.keys() == ["busy:1"]


def test_a_connection_left_idle_is_replaced_not_tried(utility, sink, clock):
    outbox.deliver_many(written(utility, 1, "first"))
    clock[0] += outbox.SMTP_IDLE_SECONDS + 1
    outbox.deliver_many(written(utility, 1, "later"))
    assert sink.connections() == 2
    assert sink.quits == 1  # the idle one was closed politely
    clock[0] += outbox.SMTP_IDLE_SECONDS - 1
    outbox.deliver_many(written(utility, 1, "soon"))
    assert sink.connections() == 2


def test_a_connection_serves_a_bounded_number_of_mails(utility, sink, clock, monkeypatch):
    monkeypatch.setattr(outbox, "SMTP_MAILS_A_CONNECTION", 3)
    outbox.deliver_many(written(utility, 7, "many"))
    assert len(sink.keys()) == 7
    assert sink.connections() == 3  # 3 + 3 + 1


def test_a_refused_recipient_fails_alone_and_the_rest_of_the_task_goes(utility, sink, clock):
    sink.refuse["bad1@example.jp"] = "550 5.1.1 No such user"
    pks = written(utility, 3, "bad")
    assert outbox.deliver_many(pks) == {
        pks[0]: Status.SENT,
        pks[1]: Status.FAILED,
        pks[2]: Status.SENT,
    }
    assert OutboxMail.objects.get(pk=pks[1]).last_error == "550 5.1.1 No such user"
    assert sorted(sink.keys()) == ["bad:0", "bad:2"]


def test_a_server_that_cannot_be_reached_is_a_try_for_later(utility, sink, clock):
    pks = written(utility, 2, "down")
    with override_settings(EMAIL_PORT=_closed_port()):
        outcome = outbox.deliver_many(pks)
    assert outcome == dict.fromkeys(pks, Status.PENDING)
    assert set(OutboxMail.objects.values_list("status", "attempts")) == {(Status.PENDING, 1)}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_the_server_takes_a_mail_only_once_the_one_before_is_marked_sent(sink, clock):
    """A worker killed at any point has sent at most one mail it did not mark: on
    PostgreSQL the mark goes while the next mail's first commands do, and is committed
    before that mail's content."""
    pks = written(UtilityFactory(), 6, "order")
    unmarked_at_arrival = []

    def check(message: bytes) -> None:
        key = key_of(message)
        earlier = [f"order:{n}" for n in range(int(key.split(":")[1]))]
        found = []

        def look() -> None:  # in a thread of its own: the sink's loop is async
            found.extend(
                OutboxMail.objects.filter(key__in=earlier)
                .exclude(status=Status.SENT)
                .values_list("key", flat=True)
            )
            connection.close()

        thread = threading.Thread(target=look)
        thread.start()
        thread.join(10)
        unmarked_at_arrival.append((key, found))

    sink.on_data = check
    assert outbox.deliver_many(pks) == dict.fromkeys(pks, Status.SENT)
    assert unmarked_at_arrival == [(f"order:{n}", []) for n in range(6)]
    assert set(OutboxMail.objects.values_list("status", "body")) == {(Status.SENT, "")}


def test_a_mark_that_fails_stops_the_task_before_the_next_mail_goes(
    utility, sink, clock, monkeypatch
):
    """The database refusing a mark is a worker dying there: the next mail must not go
    (it could never be marked either); the task fails and the lease hands the rest on."""

    class Failing:
        def __init__(self) -> None:
            self.marked = 0

        def sent(self, pk: int) -> None:
            self.marked += 1

        def settle(self) -> None:
            if self.marked:
                raise DatabaseError("the database went away")

    @contextmanager
    def failing_marks(claimed_at):
        yield Failing()

    monkeypatch.setattr(outbox, "_marks", failing_marks)
    pks = written(utility, 3, "gone")
    with pytest.raises(DatabaseError):
        outbox.deliver_many(pks)
    assert sink.keys() == ["gone:0"]
    assert set(OutboxMail.objects.values_list("status", flat=True)) == {Status.SENDING}
    monkeypatch.undo()
    outbox.deliver_many(written(utility, 1, "next"))
    assert sink.connections() == 2  # the connection left mid-mail was not used again


# What goes on the wire ------------------------------------------------------------------

BILL = (
    "ベンチ市上下水道ポータルです。今回の検針の結果をお知らせします。\n\n"
    "お客さま番号: 0000012345\n使用水量: 20 m³\n請求金額: 5,000円\n"
    "https://portal.example.jp/bench/billing/0000012345/2026-11-04/\n-- \n電話 03-1234-5678\n"
)


@pytest.mark.parametrize(
    ("sender", "recipient", "subject", "body", "key"),
    [
        (
            "ベンチ市上下水道ポータル <noreply@bench.example.jp>",
            "m1@example.jp",
            "【ベンチ市上下水道ポータル】今月のご使用量・料金のお知らせ",
            BILL,
            "bill_ready:1:2026-11-04:7",
        ),
        ("noreply@example.jp", "Taro.Suido+bill@Example.JP", "Plain ASCII", "ascii\nonly", "k:1"),
        ("Portal <noreply@example.jp>", "a@example.jp", "x" * 120 + " y", "CR\rLF\r\nLF\n", "k"),
        ("名寄 <n@example.jp>", "a@example.jp", "件名", "From here on\n.dot\n", "k:v2"),
        ("名寄 <n@example.jp>", "a@example.jp", "件名", "no newline at the end", "k:v3"),
        ("名寄 <n@example.jp>", "a@example.jp", "件名", "長" * 400 + "\n", "k:long"),  # qp
        ("名寄 <n@example.jp>", "太郎@example.jp", "件名", BILL, "k:utf8-local"),
        ("名寄 <n@example.jp>", "a@例え.jp", "件名", BILL, "k:idn"),
        ("名寄 <n@example.jp>", "a@example.jp", "件名", BILL, "k:" + "x" * 80),
    ],
)
def test_the_bytes_sent_are_what_djangos_smtp_backend_sends(sender, recipient, subject, body, key):
    mail = OutboxMail(sender=sender, recipient=recipient, subject=subject, body=body, key=key)
    outbox._head.cache_clear()
    for _ in range(2):  # the header lines built, then taken from the cache
        ours = outbox._wire(mail)
        djangos = outbox._wire_by_django(mail)
        assert _same_but_date_and_id(ours) == _same_but_date_and_id(djangos)


def _same_but_date_and_id(wire: tuple[str, str, bytes]) -> tuple[str, str, bytes]:
    sender, recipient, message = wire
    message = re.sub(rb"\r\nDate: [^\r]+\r\n", b"\r\nDate: -\r\n", message)
    message = re.sub(rb"\r\nMessage-ID: <[^>]+>\r\n", b"\r\nMessage-ID: -\r\n", message)
    return sender, recipient, message


def test_a_relay_slow_to_answer_the_message_gets_it_once(utility, sink, clock, settings):
    """a19 F2: a relay answering the final dot after EMAIL_TIMEOUT got one copy per try."""
    settings.EMAIL_TIMEOUT = 0.2
    settings.PORTAL_SMTP_DATA_TIMEOUT = 5.0
    sink.on_data = lambda content: time.sleep(0.6)  # scanning the message, then 250
    pks = written(utility, 2, "slow")
    assert outbox.deliver_many(pks) == dict.fromkeys(pks, Status.SENT)
    assert sorted(sink.keys()) == ["slow:0", "slow:1"]


def test_no_reply_after_the_message_is_tried_once_more_then_taken_as_sent(
    utility, sink, clock, settings
):
    """Beyond even the long wait the message may have been taken: one more try (at most one
    duplicate), not one copy a try up to PORTAL_OUTBOX_MAX_ATTEMPTS."""
    settings.PORTAL_SMTP_DATA_TIMEOUT = 0.2
    arrived = []  # each whole message, as the relay has it before its (late) reply

    def slow(content):
        arrived.append(key_of(content))
        time.sleep(0.6)

    sink.on_data = slow
    [pk] = written(utility, 1, "mute")
    assert outbox.deliver_many([pk]) == {pk: Status.PENDING}
    row = OutboxMail.objects.get(pk=pk)
    assert row.last_error.startswith("No reply after the message")
    OutboxMail.objects.filter(pk=pk).update(next_attempt_at=row.created_at)
    assert outbox.deliver_many([pk]) == {pk: Status.SENT}
    assert outbox.deliver_many([pk]) == {}
    row.refresh_from_db()
    assert (row.status, row.attempts, row.body) == (Status.SENT, 2, "")
    assert row.last_error.startswith("No reply after the message")  # for staff
    assert arrived == ["mute:0", "mute:0"]


def test_a_relay_refusing_our_sender_is_our_fault_tried_again_not_the_residents(
    utility, sink, clock, settings
):
    """a19 F8: a 5xx at MAIL FROM (our relay or SPF set up wrong) failed every mail at once
    and told each resident their address might be wrong."""
    sink.refuse_mail_from = "550 5.7.1 <noreply@ep-r.jp>: Sender address rejected: not owned"
    pks = written(utility, 2, "sender")
    assert outbox.deliver_many(pks) == {pks[0]: Status.PENDING, pks[1]: Status.SENT}
    row = OutboxMail.objects.get(pk=pks[0])
    assert row.last_error.startswith("MAIL FROM 550 5.7.1")
    assert mailreasons.reason(row.last_error) == "当方の送信の不具合で、お届けできませんでした。"
    OutboxMail.objects.filter(pk=pks[0]).update(next_attempt_at=row.created_at)
    assert outbox.deliver_many([pks[0]]) == {pks[0]: Status.SENT}  # the relay fixed: it goes
    assert sorted(sink.keys()) == ["sender:0", "sender:1"]


def test_a_sender_refused_to_the_last_try_fails_as_our_fault(utility, sink, clock, settings):
    settings.PORTAL_OUTBOX_MAX_ATTEMPTS = 1
    sink.refuse_mail_from = "553 5.7.1 Sender address rejected"
    [pk] = written(utility, 1, "last")
    assert outbox.deliver_many([pk]) == {pk: Status.FAILED}
    row = OutboxMail.objects.get(pk=pk)
    assert mailreasons.kind(row.last_error) == mailreasons.OURS


def test_the_mail_key_header_shows_no_internal_ids(utility, sink, clock):
    """a19 F5: ``X-Portal-Mail-Key: bill_ready:48:2026-11-25:49`` showed contract and member
    ids to every recipient. The header is an opaque digest, the same for the same key."""
    pks = written(utility, 1, "idcheck")
    OutboxMail.objects.filter(pk=pks[0]).update(key="bill_ready:48:2026-11-25:49")
    outbox.deliver_many(pks)
    header = email.message_from_bytes(sink.mails[0][1])["X-Portal-Mail-Key"]
    assert re.fullmatch(r"[0-9a-f]{32}", header)
    assert header == outbox.mail_key_header("bill_ready:48:2026-11-25:49")
    assert header != outbox.mail_key_header("bill_ready:48:2026-11-25:49:v2")

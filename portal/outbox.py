"""The mail outbox: every mail the portal sends is a row first, sent by a worker after commit.

- ``enqueue_mail`` renders the mail and writes it in the caller's transaction; after commit a
  task (``portal.tasks.deliver_mail``) sends it. It is written in the recipient member's
  language, or for someone who is no member in the page's (``mail_language``). No request waits on SMTP, and a change rolled
  back takes its mail with it.
- ``deliver_many`` claims a task's rows (pending → sending) and reads them in one conditional
  ``UPDATE … RETURNING`` (of two workers handed the same row only one wins), sends them over
  the worker process's SMTP connection, kept from task to task (``_KeptSmtp``), and marks each
  sent right after the server's 250 for it. A worker killed between a 250 and that mark is the
  only way one key can go out twice: at most one mail a kill. The bytes sent are Django's
  ``EmailMessage``'s, built without the email package for the plain case (``_wire``).
- A 4xx reply, a server that cannot be reached, or a 5xx at MAIL FROM (our sender refused:
  our fault) is tried again later, each wait twice the last; a 5xx reply to the recipient or
  the message, or the last try, marks the mail failed with the server's reply, for staff (the
  admin's 送信メール) and for the member (``mail_failed``: their history and next login). The
  reply to a message's end is waited for ``PORTAL_SMTP_DATA_TIMEOUT``; one never given is
  tried once more, then taken as sent (``NoReplyAfterData``).
- A mail about a member is checked when sent against the member as they are then
  (``recheck_at_send``): re-addressed to their current address, or cancelled with a reason.
- Codes and links a resident waits for go on the "urgent" queue, read first (``_urgent``).
- A utility's 「メール送信の上限(通/分)」 is counted across every worker in the shared cache
  (``_over_rate_many``); a mail over it goes back to pending with a later next try, never failed.
  Mails a resident is waiting for on the page (``settings.PORTAL_OUTBOX_RATE_EXEMPT``: signup
  links and codes, resets, email-change proofs) are counted but never held: a code must not
  arrive after its own deadline. ``release_rate_held`` sends the held ones at once when a
  utility's rate is raised or cleared.
- ``sweep`` (celery beat, every minute) hands on what no worker took: rows whose publish failed
  (Redis down), retries whose time has come, and claims older than the lease (a killed worker).
"""

from __future__ import annotations

import logging
import math
import re
import select
import smtplib
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, make_msgid
from functools import lru_cache
from smtplib import quoteaddr

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import RFC5322_EMAIL_LINE_LENGTH_LIMIT, sanitize_address
from django.core.mail.utils import DNS_NAME
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.dispatch import Signal
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac

from . import furigana
from .models import OutboxMail, Utility

logger = logging.getLogger("portal.outbox")

Status = OutboxMail.Status

# Sent with ``mail=`` once a mail has finally failed (accounts records it in the member's history).
mail_failed = Signal()


@dataclass(frozen=True)
class Cancel:
    """A recheck's answer for a mail that must not go: ``reason`` is what staff read."""

    reason: str


# template -> function(mails) -> {pk: the address to send to now, or Cancel(reason)}
_RECHECKS: dict[str, Callable[[list[OutboxMail]], dict[int, str | Cancel]]] = {}


def recheck_at_send(*templates: str):
    """Register a check made when mails of these kinds are sent, not when they were written.

    A mail about a member may wait in the outbox (the relay down, a rate, a backoff) while the
    member changes address, withdraws or turns that mail off, and the address may then be
    another member's. The app writing such a mail (billing for 使用量・料金 and お知らせ)
    registers a function answering, for a worker's claimed mails of its kinds, the member's
    current address or ``Cancel``; a mail it does not answer for is cancelled. Mails to an
    address the resident typed (codes, confirmations) have no check and keep their address.
    """

    def register(function):
        for template in templates:
            _RECHECKS[template] = function
        return function

    return register


# Rows of one ``enqueue_mails`` batch per task. Each task costs a broker message, an ack and
# four statements (the claim, the rates, synchronous_commit off and back): at 20 rows they were
# a mail's worth of waiting each on a loaded machine (bench/mail.py: 0.26x the floor, 0.52x at
# 100). A worker killed mid-task leaves the rest of its rows to the lease.
HAND_ON_TOGETHER = 100


def _handoff() -> timedelta:
    """How long a row handed to the queue may wait for a worker before the sweep hands it again."""
    return timedelta(seconds=settings.PORTAL_OUTBOX_HANDOFF_SECONDS)


def enqueue_mail(
    utility: Utility,
    recipient: str,
    template: str,
    context: dict,
    *,
    key: str | None = None,
    member=None,
) -> OutboxMail:
    """Write the mail ``emails/<template>_subject.txt`` / ``_body.txt`` to ``recipient``.

    ``key`` names the event the mail is about (``member_approved:42``); a key already written
    is not written again, so that event is mailed once. Without one, every call is a new mail.
    The mail is written in ``mail_language(utility, member)``.
    """
    language = mail_language(utility, member)
    subject, body = _render(utility, template, context, language)
    now = timezone.now()
    with transaction.atomic():
        mail, created = OutboxMail.objects.get_or_create(
            key=key or f"{template}:{uuid.uuid4().hex}",
            defaults={
                "utility": utility,
                "member": member,
                "recipient": recipient,
                "template": template,
                "sender": f"{utility.portal_name} <{utility.sender_email}>",
                "subject": subject,
                "body": body,
                "language": language,
                "created_at": now,
                "next_attempt_at": now + _handoff(),
            },
        )
    if created:
        urgent = _urgent(template)
        transaction.on_commit(lambda: hand_to_worker(mail.pk, urgent=urgent))
    return mail


def mail_language(utility: Utility, member=None, language: str = "") -> str:
    """The language a mail is written in: the member's own choice (the switch, used signed in);
    for a member who never chose, and for a mail to someone who is no member (a signup, a
    見守り address, a guest's 使用開始・使用中止), the language active when it is written (the
    page's; Japanese in a worker), or ``language`` if given. One the utility does not offer is
    Japanese."""
    language = getattr(member, "language", "") or language or translation.get_language()
    if language not in utility.language_codes:
        return settings.LANGUAGE_CODE
    return language


def _render(utility: Utility, template: str, context: dict, language: str) -> tuple[str, str]:
    """Subject (one line, at most 300 characters) and body of a mail, in ``language``; a
    reading of やさしい日本語 in brackets (「漢字(かんじ)」), as a mail holds no markup."""
    context = {"utility": utility, **context}
    with translation.override(language):
        subject = render_to_string(f"emails/{template}_subject.txt", context)
        body = render_to_string(f"emails/{template}_body.txt", context)
    if (
        language == furigana.EASY_JAPANESE
    ):  # only its catalog writes readings; the others' text is as typed
        subject, body = furigana.to_text(subject), furigana.to_text(body)
    return " ".join(subject.split())[:300], body


def _urgent(template: str) -> bool:
    """Whether the resident waits for this mail on the page (a code or link with a deadline):
    it goes on the "urgent" queue, which workers read first (``CELERY_TASK_QUEUES``)."""
    return template in settings.PORTAL_OUTBOX_RATE_EXEMPT


@dataclass(frozen=True)
class Mail:
    """One mail of a batch for ``enqueue_mails``: what ``enqueue_mail`` takes, key required."""

    recipient: str
    template: str
    context: dict
    key: str
    member: object = None
    language: str = ""  # for a mail to someone who is no member: else mail_language's


def enqueue_mails(utility: Utility, mails: Iterable[Mail]) -> int:
    """Write many mails of one utility at once (a batch of a bill-ready or notice mailing).

    The same rows as ``enqueue_mail`` writes, in one INSERT per batch that skips keys already
    written (``ON CONFLICT DO NOTHING`` on PostgreSQL, ``INSERT OR IGNORE`` on SQLite), so a
    batch run twice writes nothing twice. Call it in a transaction; after commit each new row
    is handed to a worker. Returns how many rows were new.
    """
    now = timezone.now()
    sender = f"{utility.portal_name} <{utility.sender_email}>"
    rows: dict[str, OutboxMail] = {}
    for mail in mails:
        if mail.key in rows:
            continue
        language = mail_language(utility, mail.member, mail.language)
        subject, body = _render(utility, mail.template, mail.context, language)
        rows[mail.key] = OutboxMail(
            key=mail.key,
            utility=utility,
            member=mail.member,
            recipient=mail.recipient,
            template=mail.template,
            sender=sender,
            subject=subject,
            body=body,
            language=language,
            created_at=now,
            next_attempt_at=now + _handoff(),
        )
    if not rows:
        return 0
    keys = list(rows)
    existing = set(OutboxMail.objects.filter(key__in=keys).values_list("key", flat=True))
    new = [row for key, row in rows.items() if key not in existing]
    OutboxMail.objects.bulk_create(new, ignore_conflicts=True)
    # Another writer may have taken a key between the look and the insert: hand on only the
    # rows this call wrote (its own timestamp and still pending).
    pks = list(
        OutboxMail.objects.filter(
            key__in=[row.key for row in new], created_at=now, status=Status.PENDING
        ).values_list("pk", flat=True)
    )
    transaction.on_commit(lambda: hand_many_to_workers(pks))
    return len(pks)


def hand_many_to_workers(pks: list[int]) -> None:
    """Queue rows ``HAND_ON_TOGETHER`` to a task: a 1,000-mail batch is 10 messages on the
    queue, not 1,000 (each publish is a round trip to the broker). A worker claims a task's
    rows together; one killed mid-task has sent at most one of them unmarked, and the sweep
    hands on the rest once the lease has run out."""
    from .tasks import deliver_mails

    for start in range(0, len(pks), HAND_ON_TOGETHER):
        chunk = pks[start : start + HAND_ON_TOGETHER]
        try:
            deliver_mails.delay(chunk)
        except Exception:  # noqa: BLE001 - a broker down (kombu/redis errors): the sweep sends them
            if deliver_mails.app.conf.task_always_eager:
                raise
            logger.warning(
                "%s outbox mails not queued (broker unavailable); the sweep will", len(chunk)
            )


class NoReplyAfterData(Exception):
    """The whole message went but the server's reply to its end never came: perhaps taken."""


# How the server's reply reads on a row whose last try ended so (``_failed_try``).
NO_REPLY_AFTER_DATA = "No reply after the message"


class _Rehearsal(Exception):
    """Undoes a rehearsed mail's row (``rehearse_mail``)."""


def rehearse_mail(utility: Utility, recipient: str, template: str, context: dict) -> None:
    """Do the work ``enqueue_mail`` does, for a mail nobody is sent.

    A form that must not tell whether an address is registered (a reset request for an
    unknown address) calls this where the known branch writes its mail: the same templates
    are rendered and the same row written, in a savepoint that is then rolled back, so the
    row is never seen (not in staff's 送信メール, never sent); after commit its number is
    handed to the queue as a real mail's is, and the worker finds nothing to send.
    """
    written: list[int] = []
    try:
        with transaction.atomic():
            written.append(enqueue_mail(utility, recipient, template, context).pk)
            raise _Rehearsal
    except _Rehearsal:
        pass
    pk, urgent = written[0], _urgent(template)
    transaction.on_commit(lambda: hand_to_worker(pk, urgent=urgent))


def hand_to_worker(pk: int, urgent: bool = False) -> None:
    """Queue the sending of one row (on the "urgent" queue if a resident waits for it);
    if the broker is down, the row waits for the sweep."""
    from .tasks import deliver_mail

    try:
        deliver_mail.apply_async((pk,), queue="urgent" if urgent else None)
    except Exception:  # noqa: BLE001 - a broker down (kombu/redis errors): the sweep sends it
        if deliver_mail.app.conf.task_always_eager:
            raise  # in-process, an error is a bug to see, not a broker to wait for
        logger.warning("outbox mail %s not queued (broker unavailable); the sweep will send it", pk)


def deliver(pk: int) -> str:
    """Send one row if it is still to be sent; return what became of it."""
    return deliver_many([pk]).get(pk, "taken")


# Columns a worker reads of the rows it claims (with the claim, in one statement).
_CLAIMED = (
    "id",
    "utility_id",
    "member_id",
    "recipient",
    "template",
    "key",
    "sender",
    "subject",
    "last_error",
)


def _claim(pks: list[int], claimed_at: datetime) -> list[OutboxMail]:
    """Take the rows of ``pks`` still pending (pending → sending) and read them, in one
    conditional ``UPDATE … RETURNING`` (PostgreSQL, and SQLite from 3.35): of two workers
    handed the same rows, each row goes to one. In the order of ``pks``."""
    if not pks:
        return []
    quote = connection.ops.quote_name
    columns = [*_CLAIMED, "body", "attempts"]
    sql = (
        f"UPDATE {quote(OutboxMail._meta.db_table)} "
        f"SET {quote('status')} = %s, {quote('claimed_at')} = %s, "
        f"{quote('attempts')} = {quote('attempts')} + 1 "
        f"WHERE {quote('id')} IN ({', '.join(['%s'] * len(pks))}) AND {quote('status')} = %s "
        f"RETURNING {', '.join(quote(c) for c in columns)}"
    )
    claimed_param = connection.ops.adapt_datetimefield_value(claimed_at)
    with connection.cursor() as cursor:
        cursor.execute(sql, [Status.SENDING, claimed_param, *pks, Status.PENDING])
        rows = cursor.fetchall()
    mails = {
        row[0]: OutboxMail(
            **dict(zip(columns, row, strict=True)), status=Status.SENDING, claimed_at=claimed_at
        )
        for row in rows
    }
    return [mails[pk] for pk in pks if pk in mails]


def deliver_many(pks: list[int]) -> dict[int, str]:
    """Send rows (a batch's chunk, ``deliver_mails``); return what became of each row this
    call claimed.

    One statement claims and reads the rows still pending; one reads their utilities' rates;
    the rate is counted for them together. Then each mail is sent and marked sent on its own,
    right after the server's 250, so a worker killed in the middle has sent at most one mail
    it did not mark. Over SMTP the worker process's connection is kept from task to task
    (``_KeptSmtp``); another backend (console, tests' locmem) gets one connection a call.
    """
    claimed_at = timezone.now()
    mails = _claim(list(dict.fromkeys(pks)), claimed_at)
    if not mails:
        return {}
    outcome: dict[int, str] = dict.fromkeys(_recheck(mails, claimed_at), Status.CANCELLED)
    mails = [mail for mail in mails if mail.pk not in outcome]
    if not mails:
        return outcome
    rates = dict(
        Utility.objects.filter(pk__in={m.utility_id for m in mails}).values_list(
            "pk", "mail_rate_per_minute"
        )
    )
    waits = _over_rate_many(rates, claimed_at, mails)
    held: dict[datetime, list[int]] = {}
    for mail, wait_until in zip(mails, waits, strict=True):
        if wait_until is not None:
            held.setdefault(wait_until, []).append(mail.pk)
            outcome[mail.pk] = "waiting"
    for wait_until, held_pks in held.items():
        # Over the utility's rate: back to pending for a later window; no try is spent on it.
        OutboxMail.objects.filter(
            pk__in=held_pks, status=Status.SENDING, claimed_at=claimed_at
        ).update(status=Status.PENDING, next_attempt_at=wait_until, attempts=F("attempts") - 1)
    if all(mail.pk in outcome for mail in mails):
        return outcome
    with _commits_not_waiting_for_disk(), _sender() as send, _marks(claimed_at) as marks:
        for mail in mails:
            if mail.pk in outcome:
                continue
            try:
                # The last mail's mark is committed before this one's content goes (a mail is
                # the server's only at its end): at most one mail is ever sent unmarked.
                send(mail, marks.settle)
            except DatabaseError:
                raise  # the last mark failed: as if the worker had died there
            except Exception as exc:  # noqa: BLE001 - every failure is kept on the row
                marks.settle()
                mine = OutboxMail.objects.filter(
                    pk=mail.pk, status=Status.SENDING, claimed_at=claimed_at
                )
                outcome[mail.pk] = _failed_try(mail, mine, exc)
                continue
            marks.sent(mail.pk)
            outcome[mail.pk] = Status.SENT
    return outcome


def _recheck(mails: list[OutboxMail], claimed_at: datetime) -> set[int]:
    """Check claimed mails against their members as they are now (``recheck_at_send``):
    re-address those whose member changed address, cancel those that must not go (status
    送信取りやめ, the reason in ``last_error``); return the cancelled ones."""
    groups: dict[Callable, list[OutboxMail]] = {}
    for mail in mails:
        check = _RECHECKS.get(mail.template)
        if check is not None:
            groups.setdefault(check, []).append(mail)
    cancelled: dict[str, list[int]] = {}
    for check, group in groups.items():
        answers = check(group)
        for mail in group:
            answer = answers.get(mail.pk) or Cancel("会員が見つからないため送信を取りやめました。")
            if isinstance(answer, Cancel):
                cancelled.setdefault(answer.reason, []).append(mail.pk)
            elif answer != mail.recipient:
                logger.info("outbox mail %s re-addressed to its member's current address", mail.pk)
                OutboxMail.objects.filter(
                    pk=mail.pk, status=Status.SENDING, claimed_at=claimed_at
                ).update(recipient=answer)
                mail.recipient = answer
    for reason, pks in cancelled.items():
        logger.info("outbox mails %s cancelled: %s", pks, reason)
        OutboxMail.objects.filter(pk__in=pks, status=Status.SENDING, claimed_at=claimed_at).update(
            status=Status.CANCELLED, body="", last_error=reason
        )
    return {pk for pks in cancelled.values() for pk in pks}


@contextmanager
def _marks(claimed_at: datetime):
    """The marks of a task's mails sent: on PostgreSQL outside a transaction each goes to the
    server while the next mail's first commands do (``_OverlappedMarks``), elsewhere each is
    committed before the next mail starts (``_Marks``). All are committed on leaving."""
    connection.ensure_connection()
    overlapped = (
        connection.vendor == "postgresql"
        and hasattr(connection.connection, "pgconn")  # psycopg 3 (psycopg2 has none)
        and connection.get_autocommit()
        and not connection.in_atomic_block
    )
    marks = _OverlappedMarks(claimed_at) if overlapped else _Marks(claimed_at)
    try:
        yield marks
    finally:
        marks.settle()


def _mark_sent(placeholders: list[str]) -> str:
    """The mark of one mail sent, as ``mine.update(status=SENT, sent_at=…, body="",
    last_error="")`` writes it, without building the ORM's query for every mail."""
    quote = connection.ops.quote_name
    status, sent_at, body, error, pk, claimed_status, claimed_at = placeholders
    return (
        f"UPDATE {quote(OutboxMail._meta.db_table)} "
        f"SET {quote('status')} = {status}, {quote('sent_at')} = {sent_at}, "
        f"{quote('body')} = {body}, {quote('last_error')} = {error} "
        f"WHERE {quote('id')} = {pk} AND {quote('status')} = {claimed_status} "
        f"AND {quote('claimed_at')} = {claimed_at}"
    )


class _Marks:
    """Each mark committed (autocommit) when made."""

    def __init__(self, claimed_at: datetime) -> None:
        self.claimed_at = connection.ops.adapt_datetimefield_value(claimed_at)
        self.sql = _mark_sent(["%s"] * 7)

    def sent(self, pk: int) -> None:
        sent_at = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(
                self.sql, [Status.SENT, sent_at, "", "", pk, Status.SENDING, self.claimed_at]
            )

    def settle(self) -> None:
        pass


class _OverlappedMarks:
    """PostgreSQL: a mark is sent and not waited for; the next mail's MAIL, RCPT and DATA
    go meanwhile, and ``settle`` waits for its commit before that mail's content.

    Waiting for each mark's round trip before the next mail was the largest part of a
    worker's time after the SMTP exchange itself on a loaded machine (bench/mail.py). The
    statement goes over the connection's libpq handle (psycopg's ``pq``), which nothing
    else uses meanwhile: every other statement of the task waits for ``settle`` first.
    """

    def __init__(self, claimed_at: datetime) -> None:
        from psycopg import pq

        self.committed = pq.ExecStatus.COMMAND_OK
        self.pg = connection.connection.pgconn
        self.claimed_at = claimed_at.isoformat().encode()
        self.sql = _mark_sent([f"${n}" for n in range(1, 8)]).encode()
        self.pending = False

    def sent(self, pk: int) -> None:
        self.settle()
        params = [
            Status.SENT.value.encode(),
            timezone.now().isoformat().encode(),
            b"",
            b"",
            str(pk).encode(),
            Status.SENDING.value.encode(),
            self.claimed_at,
        ]
        with connection.wrap_database_errors:
            self.pg.send_query_params(self.sql, params)
            self.pending = True
            while self.pg.flush():  # 1 while some of it is still to go (a non-blocking handle)
                select.select([], [self.pg.socket], [])

    def settle(self) -> None:
        """Wait until the last mark is committed; raise ``DatabaseError`` if it was not."""
        if not self.pending:
            return
        self.pending = False
        error = None
        with connection.wrap_database_errors:
            while True:
                self.pg.consume_input()
                while self.pg.is_busy():
                    select.select([self.pg.socket], [], [])
                    self.pg.consume_input()
                result = self.pg.get_result()
                if result is None:
                    break
                if result.status != self.committed:
                    error = (result.error_message or b"").decode(errors="replace")
        if error is not None:
            raise DatabaseError(f"marking an outbox mail sent failed: {error}")


@contextmanager
def _sender():
    """A function sending one claimed mail, raising what the server or the network raised.

    Over Django's own SMTP backend, the process's kept connection (``_KeptSmtp``) and the
    message's bytes built by ``_wire``; over any other backend (console, file, locmem, or a
    subclass of the SMTP one that may sign or log), Django's ``EmailMessage`` over one
    connection for this call, opened at the first mail and again after a failure closed it.
    """
    backend = get_connection(fail_silently=False)
    if type(backend) is SmtpBackend:
        yield _kept.send
        return

    def send(mail: OutboxMail, before_content) -> None:
        before_content()
        try:
            backend.open()
            _send(mail, backend)
        except Exception:
            backend.close()  # perhaps broken: the next mail opens a fresh one
            raise

    with closing(backend):
        yield send


# A worker process's SMTP connection serves this many mails, then a fresh one is opened (a
# relay may limit mails a session; a long session pins one relay behind a balancer).
SMTP_MAILS_A_CONNECTION = 1000
# A connection unused this long is closed and a fresh one opened rather than tried: a server
# may have dropped it meanwhile (RFC 5321 asks servers to wait at least 5 minutes; most do).
SMTP_IDLE_SECONDS = 10.0
_clock = time.monotonic  # the tests move it


def _smtp_settings() -> tuple:
    return tuple(
        getattr(settings, name, None)
        for name in (
            "EMAIL_HOST",
            "EMAIL_PORT",
            "EMAIL_HOST_USER",
            "EMAIL_HOST_PASSWORD",
            "EMAIL_USE_TLS",
            "EMAIL_USE_SSL",
            "EMAIL_TIMEOUT",
            "EMAIL_SSL_CERTFILE",
            "EMAIL_SSL_KEYFILE",
        )
    )


class _KeptSmtp(threading.local):
    """The SMTP connection of a worker process (of a thread, with a threads pool), kept from
    task to task: opening one is a TCP handshake, the greeting, EHLO (and TLS and a login
    in production), as many round trips as two mails, and a 20-mail task opened one.

    Opened at the first mail; closed after any failure (the next mail opens a fresh one),
    after ``SMTP_MAILS_A_CONNECTION`` mails, when unused ``SMTP_IDLE_SECONDS``, when the
    settings changed, and at the worker's shutdown (``portal.celery``). A kept connection
    the server dropped meanwhile (a disconnect, or 421, at the mail's first command) is
    replaced and the mail sent over the fresh one, no try counted: nothing of it went.
    """

    def __init__(self) -> None:
        self.backend: SmtpBackend | None = None
        self.settings: tuple = ()
        self.mails = 0
        self.used_at = 0.0

    def send(self, mail: OutboxMail, before_content) -> None:
        """Send ``mail`` as ``smtplib.SMTP.sendmail`` does, calling ``before_content`` once the
        server has said 354 to DATA, before the message (which it takes only at its end)."""
        sender, recipient, message = _wire(mail)
        reused, mid_mail = self._open(), False
        try:
            try:
                self._mail_from(sender, message)
            except (smtplib.SMTPServerDisconnected, smtplib.SMTPSenderRefused) as exc:
                dropped = isinstance(exc, smtplib.SMTPServerDisconnected) or exc.smtp_code == 421
                if not (reused and dropped):
                    raise
                self.close()
                self._open()
                self._mail_from(sender, message)
            smtp = self.backend.connection
            # smtplib.SMTP.rcpt's command; a plain address is its own quoted form.
            plain = _PLAIN_ADDRESS.fullmatch(recipient)
            smtp.putcmd("rcpt", f"to:{f'<{recipient}>' if plain else quoteaddr(recipient)}")
            code, reply = smtp.getreply()
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
            code, reply = smtp.docmd("data")
            if code != 354:
                raise smtplib.SMTPDataError(code, reply)
            mid_mail = True  # from here a QUIT would be read as the message's content
            before_content()
            content = _LEADING_DOT.sub(b"..", message)  # smtplib.SMTP.data's transparency
            if not content.endswith(b"\r\n"):
                content += b"\r\n"
            smtp.send(content + b".\r\n")
            code, reply = self._final_reply(smtp)
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
        except BaseException:
            self.close(polite=not mid_mail)  # perhaps broken: the next mail opens a fresh one
            raise
        self.mails += 1
        self.used_at = _clock()

    @staticmethod
    def _final_reply(smtp: smtplib.SMTP) -> tuple[int, bytes]:
        """The reply to the message's final dot, waited for ``PORTAL_SMTP_DATA_TIMEOUT``
        (RFC 5321 4.5.3.2.6 gives it 10 minutes: a relay may scan the message first) rather
        than ``EMAIL_TIMEOUT``. None by then, the message may well have been taken:
        ``NoReplyAfterData``, which is retried once only (``_failed_try``)."""
        timeout = smtp.sock.gettimeout()
        smtp.sock.settimeout(settings.PORTAL_SMTP_DATA_TIMEOUT)
        try:
            return smtp.getreply()
        except smtplib.SMTPServerDisconnected as exc:
            raise NoReplyAfterData(str(exc)) from exc
        finally:
            if smtp.sock is not None:
                smtp.sock.settimeout(timeout)

    def _mail_from(self, sender: str, message: bytes) -> None:
        smtp = self.backend.connection
        smtp.ehlo_or_helo_if_needed()
        # smtplib.SMTP.mail's command (parsing the same sender every time was a tenth of a
        # worker's CPU).
        size = f" size={len(message)}" if smtp.does_esmtp and smtp.has_extn("size") else ""
        smtp.putcmd("mail", f"from:{_quoted(sender)}{size}")
        code, reply = smtp.getreply()
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)

    def _open(self) -> bool:
        """Make sure a connection is open; return whether it is one kept from before."""
        now = _clock()
        current = _smtp_settings()
        if self.backend is not None and (
            self.settings != current
            or self.mails >= SMTP_MAILS_A_CONNECTION
            or now - self.used_at > SMTP_IDLE_SECONDS
        ):
            self.close()
        if self.backend is not None:
            return True
        backend = get_connection(fail_silently=False)
        backend.open()
        self.backend, self.settings, self.mails, self.used_at = backend, current, 0, now
        return False

    def close(self, polite: bool = True) -> None:
        """Say QUIT and close; without ``polite`` (left in the middle of a message, which
        the server drops unfinished), just close."""
        backend, self.backend = self.backend, None
        if backend is not None and not polite and backend.connection is not None:
            backend.connection.close()
            backend.connection = None
        if backend is not None:
            try:
                backend.close()
            except Exception:  # noqa: BLE001 - a connection already broken: nothing to say QUIT to
                logger.debug("SMTP connection closed uncleanly", exc_info=True)


_kept = _KeptSmtp()
_quoted = lru_cache(maxsize=64)(quoteaddr)


def close_kept_smtp() -> None:
    """Say QUIT on this process's kept SMTP connection (a worker shutting down)."""
    _kept.close()


# A recipient Django would write as given: a dot-atom local part
# at an ASCII host name. Anything else is built by Django itself.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
_LINE_END = re.compile(r"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_HEADER_LINE = 78  # where the email package folds a header line


def mail_key_header(key: str) -> str:
    """The X-Portal-Mail-Key a mail carries: an HMAC of its row's key with SECRET_KEY (a19 F5:
    the key itself, ``bill_ready:48:2026-11-25:49``, showed internal contract and member ids
    to every recipient). The same key gives the same value, so a sink (bench/mail.py) still
    counts duplicates by it, and staff can find a mail a relay reports from its key."""
    return salted_hmac("portal.outbox.mail-key", key, algorithm="sha256").hexdigest()[:32]


def _wire(mail: OutboxMail) -> tuple[str, str, bytes]:
    """The envelope sender, the recipient and the bytes Django's SMTP backend sends for
    ``mail`` (the ``EmailMessage`` of ``_send``), byte for byte but its own Date and
    Message-ID (tests/portal/test_outbox_smtp.py compares them).

    Building the MIME message took a worker as long as the floor takes to send a mail
    (bench/mail.py). The headers before To (Content-Type, MIME-Version, the transfer encoding,
    the encoded Subject and From) are Django's own, built once per sender, subject and kind of
    body (``_head``); the rest is written here for the plain case: a dot-atom recipient at an
    ASCII host, no line too long for 8bit, UTF-8. Any other mail is built by Django.
    """
    body, recipient, key = mail.body, mail.recipient, mail_key_header(mail.key)
    message_id = make_msgid(domain=DNS_NAME)
    if (
        settings.DEFAULT_CHARSET.lower() != "utf-8"
        or not body
        or len(recipient) > _HEADER_LINE - len("To: ")
        or not _PLAIN_ADDRESS.fullmatch(recipient)
        or len(message_id) > _HEADER_LINE - len("Message-ID: ")
        or any(
            len(line.encode(errors="surrogateescape")) > RFC5322_EMAIL_LINE_LENGTH_LIMIT
            for line in body.splitlines()
        )
    ):
        return _wire_by_django(mail)
    sender, head = _head(mail.sender, mail.subject, body.isascii())
    date = formatdate(localtime=settings.EMAIL_USE_LOCALTIME)
    text = _LINE_END.sub("\r\n", body)  # as the email package writes a body's lines
    tail = (
        f"To: {recipient}\r\nDate: {date}\r\nMessage-ID: {message_id}\r\n"
        f"X-Portal-Mail-Key: {key}\r\n\r\n{text}"
    )
    return sender, recipient, head + tail.encode()


@lru_cache(maxsize=64)
def _head(sender: str, subject: str, ascii_body: bool) -> tuple[str, bytes]:
    """The envelope sender and Django's header lines before To, for this sender and subject
    and a body of this kind (an ASCII one goes as 7bit, another as 8bit)."""
    sample = OutboxMail(
        sender=sender, subject=subject, body="x" if ascii_body else "水", recipient="to@example.jp"
    )
    envelope, _, message = _wire_by_django(sample)
    return envelope, message[: message.index(b"\r\nTo: ") + 2]


def _wire_by_django(mail: OutboxMail) -> tuple[str, str, bytes]:
    """What Django's SMTP backend (``EmailBackend._send``) sends for ``_send``'s message."""
    encoding = settings.DEFAULT_CHARSET
    message = _message(mail)
    return (
        sanitize_address(message.from_email, encoding),
        sanitize_address(mail.recipient, encoding),
        message.message().as_bytes(linesep="\r\n"),
    )


@contextmanager
def _commits_not_waiting_for_disk():
    """On PostgreSQL, the commits of the sending loop do not wait for the disk
    (``synchronous_commit`` off for this connection until the loop ends).

    A mark is the server's as soon as it is acknowledged, so a worker killed after it never
    sends that mail again; only a crash of the database server itself may lose the writes of
    its last fraction of a second (at most three ``wal_writer_delay``, 0.6 s by default), and
    those mails, back to 送信中, go again after the lease. Waiting for the disk on every mail
    was a third of a worker's time (bench/mail.py --profile).
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        if connection.is_usable():
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")


def _over_rate_many(
    rates: dict[int, int | None], now, mails: list[OutboxMail]
) -> list[datetime | None]:
    """For each mail, None if it may go now under its utility's 「メール送信の上限(通/分)」,
    else when to try it again.

    A fixed window per utility, counted in the shared cache (Redis) so that every worker process
    and machine counts the same mails: each mail taken for sending adds one to the window's
    count (a batch's mails of one utility in one increment, each taking the next place). A mail
    over the window's share waits for the window its place in the count falls in (the 25th of
    10 a minute waits two windows), so a backlog drains at the rate instead of every waiting
    mail being tried again each minute. With the cache unreachable it waits one window: mail
    is never sent uncounted, and never failed for the rate.

    A mail the resident is waiting for (``template`` in ``PORTAL_OUTBOX_RATE_EXEMPT``) is
    counted, so the others make room for it, but always goes now: those forms are already
    limited per address and per client, and a code held behind a backlog would expire unread.
    """
    waits: list[datetime | None] = [None] * len(mails)
    by_utility: dict[int, list[int]] = {}
    for n, mail in enumerate(mails):
        if rates.get(mail.utility_id):
            by_utility.setdefault(mail.utility_id, []).append(n)
    window = settings.PORTAL_OUTBOX_RATE_WINDOW_SECONDS
    number = int(now.timestamp() // window)
    for utility_id, places in by_utility.items():
        allowed = max(1, math.ceil(rates[utility_id] * window / 60))
        key = f"outbox-rate:{utility_id}:{number}"
        try:
            cache.add(key, 0, timeout=int(window * 2) + 1)
            last = cache.incr(key, len(places))
        except Exception:  # noqa: BLE001 - the cache down (redis errors): wait, uncounted is no option
            logger.warning("outbox rate of utility %s not counted (cache unavailable)", utility_id)
            last = None
        for offset, n in enumerate(places):
            if mails[n].template in settings.PORTAL_OUTBOX_RATE_EXEMPT:
                continue
            count = allowed + 1 if last is None else last - len(places) + 1 + offset
            if count <= allowed:
                continue
            windows_ahead = math.ceil((count - allowed) / allowed)
            waits[n] = datetime.fromtimestamp((number + windows_ahead) * window, tz=UTC)
    return waits


def release_rate_held(utility: Utility) -> list[int]:
    """Hand on at once the utility's mails waiting for a later window, after its rate was
    raised or cleared (``Utility.save``); each is counted again under the new rate.

    A mail held for the rate is pending with a later next try and no server reply; one that
    also waits after a refusal (a reply kept) keeps its retry time.
    """
    now = timezone.now()
    held = OutboxMail.objects.filter(
        utility=utility, status=Status.PENDING, next_attempt_at__gt=now, last_error=""
    )
    pks = list(held.values_list("pk", flat=True))
    OutboxMail.objects.filter(pk__in=pks, status=Status.PENDING).update(next_attempt_at=now)
    transaction.on_commit(lambda: hand_many_to_workers(pks))
    return pks


def _message(mail: OutboxMail, backend=None) -> EmailMessage:
    return EmailMessage(
        subject=mail.subject,
        body=mail.body,
        from_email=mail.sender,
        to=[mail.recipient],
        headers={"X-Portal-Mail-Key": mail_key_header(mail.key)},
        connection=backend,
    )


def _send(mail: OutboxMail, backend) -> None:
    _message(mail, backend).send()


def _failed_try(mail: OutboxMail, mine, exc: Exception) -> str:
    code, reply = smtp_reply(exc)
    now = timezone.now()
    if isinstance(exc, NoReplyAfterData) and mail.last_error.startswith(NO_REPLY_AFTER_DATA):
        # The second try to go unanswered after the whole message: the server has likely
        # taken both (a relay that scans slowly, answering after PORTAL_SMTP_DATA_TIMEOUT).
        # Taken as sent, so a slow relay gets at most one copy more, never one a try.
        logger.warning("outbox mail %s unanswered after the message twice: taken as sent", mail.pk)
        mine.update(status=Status.SENT, sent_at=now, body="", last_error=reply)
        return Status.SENT
    # A 5xx at MAIL FROM refuses our sender (the relay's or SPF's setup, not the resident's
    # address): our fault, tried again like a 4xx until fixed, and logged as an error.
    sender_refused = isinstance(exc, smtplib.SMTPSenderRefused) and code is not None and code >= 500
    if sender_refused:
        logger.error("outbox mail %s: the relay refused our sender: %s", mail.pk, reply)
    permanent = code is not None and 500 <= code < 600 and not sender_refused
    if permanent or mail.attempts >= settings.PORTAL_OUTBOX_MAX_ATTEMPTS:
        logger.warning("outbox mail %s to member %s failed: %s", mail.pk, mail.member_id, reply)
        if mine.update(status=Status.FAILED, failed_at=now, body="", last_error=reply):
            mail.refresh_from_db()
            mail_failed.send(sender=OutboxMail, mail=mail)
        return Status.FAILED
    wait = min(
        settings.PORTAL_OUTBOX_RETRY_SECONDS * 2 ** (mail.attempts - 1),
        settings.PORTAL_OUTBOX_RETRY_MAX_SECONDS,
    )
    logger.info(
        "outbox mail %s try %s refused (%s); again in %ss", mail.pk, mail.attempts, reply, wait
    )
    mine.update(
        status=Status.PENDING, next_attempt_at=now + timedelta(seconds=wait), last_error=reply
    )
    return Status.PENDING


def smtp_reply(exc: Exception) -> tuple[int | None, str]:
    """The server's code and reply as staff read it (「550 5.1.1 No such user」), or the error."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code, text = next(iter(exc.recipients.values()))
        return code, f"{code} {_text(text)}"
    if isinstance(exc, smtplib.SMTPSenderRefused) and exc.smtp_code >= 500:
        # Not a code first: portal.mailreasons reads it as our own fault, not the address's.
        return exc.smtp_code, f"MAIL FROM {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code, f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, NoReplyAfterData):
        return None, f"{NO_REPLY_AFTER_DATA} ({exc})"[:1000]
    return None, f"{type(exc).__name__}: {exc}"[:1000]


def _text(reply) -> str:
    return (reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply))[:1000]


def sweep() -> list[int]:
    """Hand to workers every row no worker has: due and pending, or claimed longer than the
    lease ago (its worker died). Returns the rows handed on."""
    now = timezone.now()
    lease = timedelta(seconds=settings.PORTAL_OUTBOX_LEASE_SECONDS)
    # A claim older than the lease belongs to a dead worker: back to pending (conditionally,
    # so a worker that does finish meanwhile keeps its 'sent').
    OutboxMail.objects.filter(status=Status.SENDING, claimed_at__lt=now - lease).update(
        status=Status.PENDING, next_attempt_at=now
    )
    with transaction.atomic():
        due = OutboxMail.objects.filter(Q(status=Status.PENDING) & Q(next_attempt_at__lte=now))
        due = due.order_by("next_attempt_at").values_list("pk", flat=True)
        if connection.features.has_select_for_update_skip_locked:
            # Two sweeps at once (two beat by mistake) each take rows the other does not hold.
            due = due.select_for_update(skip_locked=True)
        pks = list(due[: settings.PORTAL_OUTBOX_SWEEP_BATCH])
        # Not handed again by the next sweep while its task waits in the queue.
        OutboxMail.objects.filter(pk__in=pks).update(next_attempt_at=now + _handoff())
    hand_many_to_workers(pks)
    return pks

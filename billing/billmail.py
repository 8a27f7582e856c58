"""Mails after an import of readings: 「今月のご使用量・料金のお知らせ」 and the abnormal-use alert.

After a real import (the admin's job and ``manage.py import_readings``, not a dry run, not
held), ``start`` queues ``billing.tasks.mail_bill_ready`` for each utility concerned. Each run
of ``mail_batch`` takes the next ``PORTAL_BILL_MAIL_BATCH`` readings still to announce:

- whose total differs from ``mailed_total``, the total last announced (empty: never), or
  that was mailed and whose period a correction moved since (``mailed_period_start``,
  ``mailed_period_end``: a 【訂正】 naming the dates told, even with the same total), and
- the newest period of its contract, read within ``PORTAL_BILL_MAIL_RECENT_DAYS`` (45) days
  (an old period loaded late, or a history backfill, mails nobody), or any period that was
  mailed (``mail_count``): a member told an amount is told its correction.

For each, every active member of the utility linked to the contract who wants the mail
(会員情報 → メールの受け取り, default a field of the utility) gets one outbox row, keyed
``bill_ready:<contract id>:<period end>:<member id>:r<reading id>``; a reading mailed before
whose total changed gets a correction 「【訂正】…」 keyed by the reading's mail count (``…:v<n>``,
n = 2, 3...: each change is one mail, back to an earlier amount too) quoting ``mailed_total``.
A reading only marked told (stored before these mails, or the demo's) was never mailed: its
change is a plain mail, with no 「先のお知らせでは」. If
the period is abnormal use by the dashboard's leak rule (``usage.summarise``), members who
want alerts get ``leak:<contract id>:<period end>:<member id>``; a period below a member's
見守り threshold mails their consenting second address (``billing.watch``). The batch then stores
``mailed_total``, ``mail_count`` and the period mailed, and commits: a batch is its own
short transaction, holds at most a batch of readings and their members in memory, and a
batch run twice writes no mail twice.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from portal.models import Utility
from portal.outbox import Cancel, Mail, enqueue_mails, recheck_at_send

from . import usage, watch
from .models import Customer, MeterReading

logger = logging.getLogger("billing.billmail")

# accounts.Member.Status.ACTIVE; billing never imports accounts (DESIGN.md).
ACTIVE = "active"
# Readings a leak check looks back over (a year of monthly periods and a margin).
LEAK_LOOKBACK = datetime.timedelta(days=400)


def wanting(utility: Utility, field: str, default: bool) -> Q:
    """Members who chose this mail, or left the choice to the utility's default."""
    chosen = Q(**{field: True})
    return chosen | Q(**{f"{field}__isnull": True}) if default else chosen


def due_readings(utility: Utility, today: datetime.date):
    """The readings of ``utility`` still to announce, oldest row first."""
    cutoff = today - datetime.timedelta(days=settings.PORTAL_BILL_MAIL_RECENT_DAYS)
    newer = MeterReading.objects.filter(
        customer_id=OuterRef("customer_id"), period_end__gt=OuterRef("period_end")
    )
    latest = Q(read_on__gte=cutoff) & ~Exists(newer)
    return (
        MeterReading.objects.filter(customer__utility=utility)
        .filter(Q(mailed_total__isnull=True) | ~Q(mailed_total=F("total")) | _moved_since_mailed())
        .filter(latest | Q(mail_count__gt=0))
        .order_by("pk")
    )


def _moved_since_mailed() -> Q:
    """A mailed reading whose period a correction moved since (the same total, perhaps): the
    resident was told other dates. An empty start (mailed before it was kept) is not compared."""
    start = Q(mailed_period_start__isnull=False) & ~Q(mailed_period_start=F("period_start"))
    end = Q(mailed_period_end__isnull=False) & ~Q(mailed_period_end=F("period_end"))
    return Q(mail_count__gt=0) & (start | end)


def carry_told_state(cursor, staged: str) -> None:
    """After an import updated stored readings: a new reading of the file (``staged``) lying
    within the days a mail told of another reading of its contract (a told period split, that
    one keeping its end) takes that mail state, so it is announced as a correction of what was
    told, as a row replacing a told period is. Only contracts with a told reading moved since."""
    table = connection.ops.quote_name(MeterReading._meta.db_table)
    told = (
        f"FROM {table} t WHERE t.customer_id = {table}.customer_id AND t.id <> {table}.id "
        f"AND t.mail_count > 0 AND t.mailed_period_start <= {table}.period_start "
        f"AND t.mailed_period_end >= {table}.period_end"
    )
    moved = (
        f"SELECT customer_id FROM {table} WHERE mail_count > 0 AND (mailed_period_start <> "
        "period_start OR mailed_period_end <> period_end)"
    )
    cursor.execute(
        f"UPDATE {table} SET (mailed_total, mail_count, mailed_period_start, mailed_period_end) "
        f"= (SELECT t.mailed_total, t.mail_count, t.mailed_period_start, t.mailed_period_end "
        f"{told} ORDER BY t.period_end LIMIT 1) WHERE customer_id IN ({moved}) AND mail_count = 0 "
        f"AND mailed_total IS NULL AND (customer_id, period_end) IN (SELECT customer_id, "
        f"period_end FROM {staged}) AND EXISTS (SELECT 1 {told})"
    )


def mail_batch(utility_id: int) -> bool:
    """Write the mails of the next batch of readings; return whether readings are left."""
    size = settings.PORTAL_BILL_MAIL_BATCH
    utility = Utility.objects.get(pk=utility_id)
    today = timezone.localdate()
    with transaction.atomic():
        readings = due_readings(utility, today).select_related("customer")
        if connection.features.has_select_for_update:
            # Two passes at once (two imports ending together) take turns over a reading.
            readings = readings.select_for_update(of=("self",))
        readings = list(readings[:size])
        if not readings:
            return False
        mails = list(_mails(utility, readings))
        enqueue_mails(utility, mails)
        for reading in readings:
            reading.mailed_total = reading.total
            reading.mail_count += 1
            reading.mailed_period_start = reading.period_start
            reading.mailed_period_end = reading.period_end
        MeterReading.objects.bulk_update(
            readings, ["mailed_total", "mail_count", "mailed_period_start", "mailed_period_end"]
        )
    logger.info(
        "utility %s: %s readings announced, %s mails", utility.slug, len(readings), len(mails)
    )
    return len(readings) == size


def _mails(utility: Utility, readings: list[MeterReading]):
    by_contract: dict[int, list[MeterReading]] = defaultdict(list)  # a correction and a newer
    for reading in readings:  # period of one contract may be in one batch: each is mailed
        by_contract[reading.customer_id].append(reading)
    members = (
        get_user_model()
        .objects.filter(
            utility=utility,
            status=ACTIVE,
            is_staff=False,
            contract_links__customer_id__in=list(by_contract),
        )
        .exclude(email="")
        .annotate(
            contract_id=F("contract_links__customer_id"),
            link_started_on=F("contract_links__started_on"),
            link_ended_on=F("contract_links__ended_on"),
        )
        .only("pk", "email", "wants_bill_mail", "wants_alert_mail", "utility_id", "language")
        .order_by("pk")
    )
    leaks = _leaks(utility, readings)
    base = settings.PORTAL_BASE_URL.rstrip("/")
    members_by_contract: dict[int, list[int]] = defaultdict(list)
    pairs = ((m, r) for m in members for r in by_contract[m.contract_id])
    for member, reading in pairs:
        if member.link_ended_on is not None and reading.period_start > member.link_ended_on:
            continue  # a period begun after the member moved out (使用中止) is not theirs
        if member.link_started_on is not None and reading.period_end < member.link_started_on:
            continue  # nor one ended before they moved in (使用開始・名義変更)
        if member.pk not in members_by_contract[member.contract_id]:
            members_by_contract[member.contract_id].append(member.pk)
        contract = reading.customer
        told_start, told_end = reading.mailed_period_start, reading.mailed_period_end
        moved = told_end != reading.period_end or told_start not in (None, reading.period_start)
        context = {
            "reading": reading,
            "contract": contract,
            "correction": reading.mail_count > 0,
            "amount_corrected": reading.mailed_total != reading.total,
            "previous_total": reading.mailed_total,
            # A correction that moved the period says what was told (the end alone if the start
            # was not kept).
            "previous_period_start": told_start if moved else None,
            "previous_period_end": told_end if moved else None,
            "url": base
            and base
            + reverse(
                "billing:period",
                args=[utility.slug, contract.number, reading.period_end],
            ),
        }
        stem = f"{contract.pk}:{reading.period_end.isoformat()}:{member.pk}"
        if _wants(member.wants_bill_mail, utility.mail_bill_ready_default):
            # The reading's id too: a new period ending where a corrected one ended before is
            # another reading, not the mail already written under that end (the outbox writes
            # a key once).
            key = f"bill_ready:{stem}:r{reading.pk}"
            if reading.mail_count:
                key += f":v{reading.mail_count + 1}"
            yield Mail(member.email, "billing/bill_ready", context, key, member)
        summary = leaks.get(reading.pk)
        if summary is not None and _wants(member.wants_alert_mail, utility.mail_alerts_default):
            yield Mail(
                member.email,
                "billing/leak_alert",
                {**context, "summary": summary},
                f"leak:{stem}",
                member,
            )
    yield from watch.low_use_mails(utility, readings, members_by_contract)


def _wants(choice: bool | None, default: bool) -> bool:
    return default if choice is None else choice


def _leaks(utility: Utility, readings: list[MeterReading]) -> dict[int, usage.Summary]:
    """The batch's readings that are abnormal use by the dashboard's rule, with its summary."""
    earliest = min(r.period_end for r in readings) - LEAK_LOOKBACK
    history: dict[int, list] = defaultdict(list)
    rows = (
        MeterReading.objects.filter(
            customer_id__in=[r.customer_id for r in readings], period_end__gte=earliest
        )
        .only("customer_id", "period_start", "period_end", "usage_m3")
        .order_by("customer_id", "-period_end")
    )
    for row in rows:
        history[row.customer_id].append(row)
    found = {}
    for reading in readings:
        recent = [r for r in history[reading.customer_id] if r.period_end <= reading.period_end]
        summary = usage.summarise(
            recent,
            leak_ratio_percent=utility.leak_ratio_percent,
            leak_min_increase_m3=utility.leak_min_increase_m3,
        )
        if summary is not None and summary.possible_leak:
            found[reading.pk] = summary
    return found


def utilities_to_mail(utility_ids, hold: bool | None) -> list[int]:
    """Which of these utilities mail now: all if ``hold`` is False, none if True, and by
    each utility's 「保留」 default if None."""
    if hold:
        return []
    utilities = (
        Utility.objects.all() if utility_ids is None else Utility.objects.filter(pk__in=utility_ids)
    )
    if hold is None:
        utilities = utilities.filter(hold_bill_mail=False)
    return list(utilities.values_list("pk", flat=True))


def due_mail_count(utility: Utility) -> int:
    """How many 「今月のご使用量・料金のお知らせ」 the readings still to announce would send."""
    due = due_readings(utility, timezone.localdate()).values("pk")
    return (
        get_user_model()
        .objects.filter(utility=utility, status=ACTIVE, is_staff=False)
        .exclude(email="")
        .filter(wanting(utility, "wants_bill_mail", utility.mail_bill_ready_default))
        .filter(
            # One filter() so the conditions hold of the same link and reading; a period
            # begun after the member moved out (使用中止), or ended before they moved in
            # (使用開始・名義変更), is not theirs, as in _mails.
            Q(contract_links__ended_on__isnull=True)
            | Q(
                contract_links__ended_on__gte=F("contract_links__customer__readings__period_start")
            ),
            Q(contract_links__started_on__isnull=True)
            | Q(
                contract_links__started_on__lte=F("contract_links__customer__readings__period_end")
            ),
            contract_links__customer__readings__in=due,
        )
        .count()
    )


def mail_lines(utility_ids, mailing: list[int]) -> list[str]:
    """What an import says of its mails: 「N 通を送ります」 for the utilities in ``mailing``,
    「N 通を保留しています」 for the others of ``utility_ids`` (None: all); none if none."""
    utilities = (
        Utility.objects.all() if utility_ids is None else Utility.objects.filter(pk__in=utility_ids)
    )
    sent = held = 0
    for utility in utilities.order_by("pk"):
        count = due_mail_count(utility)
        if utility.pk in mailing:
            sent += count
        else:
            held += count
    lines = []
    if sent:
        lines.append(
            gettext("お知らせメール: %(count)s 通を送ります(送信はワーカーが行います)。")
            % {"count": sent}
        )
    if held:
        lines.append(
            gettext(
                "お知らせメール: %(count)s 通を保留しています(保留しない次の取り込みか、"
                "管理画面の検針・料金 →「CSVを取り込む」の「保留中のお知らせメールを送る」で送ります)。"
            )
            % {"count": held}
        )
    return lines


def start(utility_ids: list[int]) -> None:
    """Queue the mailing of each utility after commit; with the broker down, log it."""
    from .tasks import mail_bill_ready

    def queue() -> None:
        for pk in utility_ids:
            try:
                mail_bill_ready.delay(pk)
            except Exception:  # noqa: BLE001 - kombu/redis errors: the next import or the command
                if mail_bill_ready.app.conf.task_always_eager:
                    raise
                logger.warning("bill-ready mail of utility %s not queued (broker unavailable)", pk)

    transaction.on_commit(queue)


# Each member mail of billing and the Member.wants_mail kind it is about.
_KINDS = {"billing/bill_ready": "bill", "billing/leak_alert": "alert", "billing/notice": "notice"}
_CONTRACT_KINDS = ("billing/bill_ready", "billing/leak_alert")


@recheck_at_send(*_KINDS)
def current_recipients(mails) -> dict:
    """For mails waiting in the outbox (portal.outbox.recheck_at_send): the member's address
    now, or why the mail no longer goes: the member is not active, has no address, is no
    longer linked to the contract (bill-ready and alert mails, whose key begins with the
    contract's id: ``bill_ready:<contract>:<period>:<member>``), or turned that kind off."""
    members = {
        member.pk: member
        for member in get_user_model()
        .objects.filter(pk__in={m.member_id for m in mails if m.member_id})
        .select_related("utility")
    }
    linked = set(
        Customer.objects.filter(member_links__member_id__in=list(members)).values_list(
            "pk", "member_links__member_id"
        )
    )
    answers = {}
    for mail in mails:
        member = members.get(mail.member_id)
        if member is None or member.status != ACTIVE or member.is_staff:
            answers[mail.pk] = Cancel(
                gettext("会員が退会した(利用中でない)ため送信を取りやめました。")
            )
        elif not member.email:
            answers[mail.pk] = Cancel(
                gettext("会員のメールアドレスがないため送信を取りやめました。")
            )
        elif mail.template in _CONTRACT_KINDS and (_contract_of(mail.key), member.pk) not in linked:
            answers[mail.pk] = Cancel(
                gettext("会員とこの契約の紐づけがなくなったため送信を取りやめました。")
            )
        elif not member.wants_mail(_KINDS[mail.template]):
            answers[mail.pk] = Cancel(
                gettext("会員がこの種類のメールを受け取らない設定にしたため送信を取りやめました。")
            )
        else:
            answers[mail.pk] = member.email
    return answers


def _contract_of(key: str) -> int | None:
    """The contract's id in a bill-ready or alert mail's key (``_mails`` writes them)."""
    part = key.split(":")[1:2]
    return int(part[0]) if part and part[0].isdigit() else None

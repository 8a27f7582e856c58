"""Applications in, staff handling out: each step one transaction with its mail and audit line.

- ``apply`` saves an application (a guest move-out is matched against the contract as
  signup matches, and saved whatever the match: the answer never tells whether the number
  exists; staff see the evidence), mails the details with the status link, and logs it.
- ``handle`` is a staff action (処理中 / 完了 / 要連絡 with a note mailed to the applicant); a
  completed move-out ends every member's link to the contract on the move-out day.
"""

from __future__ import annotations

import copy
import datetime
import logging
import secrets

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import log_event
from accounts.models import ContractLink, ContractRequest, Member
from accounts.ratelimit import Limit, hit_all
from accounts.services.base import record_event
from accounts.services.contracts import has_room_for_another_member, link_contract
from accounts.services.matching import match_contract
from billing.models import Customer, MeterReading, Payment
from portal import normalize
from portal.net import client_ip
from portal.outbox import enqueue_mail

from .models import CONTRACT_KINDS, MoveApplication, evidence_ok

logger = logging.getLogger(__name__)
STATUS_SALT = "moving.status-link"
MOVE_PER_IP = Limit("moving.apply.ip", "PORTAL_MOVING_RATE_PER_IP", "20/h")
MOVE_PER_EMAIL = Limit("moving.apply.email", "PORTAL_MOVING_RATE_PER_EMAIL", "5/h")

Status = MoveApplication.Status


class Duplicate(Exception):
    """Two requests at once applied for the same contract and day: the database kept one."""


def check_client_rate(request: HttpRequest) -> None:
    """Count a guest's post per client address (raises accounts.ratelimit.RateLimited)."""
    hit_all(request, (MOVE_PER_IP, client_ip(request)))


def check_address_rate(request: HttpRequest, email: str) -> None:
    """Count a guest's valid application per typed address: a resident's typos, or someone
    typing another's address into a refused form, never lock that address out."""
    hit_all(request, (MOVE_PER_EMAIL, f"{request.utility.slug}:{normalize.identifier(email)}"))


def _new_reference(today: datetime.date) -> str:
    """「20261206-482913」: the day and six random digits, read out on the phone."""
    return f"{today:%Y%m%d}-{secrets.randbelow(10**6):06d}"


def status_token(application: MoveApplication) -> str:
    return signing.dumps({"a": application.pk}, salt=STATUS_SALT)


def read_status_token(token: str) -> int | None:
    """The application a status link names, or None if altered or older than the setting."""
    max_age = datetime.timedelta(days=settings.PORTAL_MOVING_STATUS_LINK_DAYS)
    try:
        return int(signing.loads(token, salt=STATUS_SALT, max_age=max_age)["a"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def status_url(request: HttpRequest, application: MoveApplication) -> str:
    """The mailed status link: on PORTAL_BASE_URL when set (not the request's Host)."""
    path = reverse("moving:status", args=[application.utility.slug, status_token(application)])
    if base := settings.PORTAL_BASE_URL.rstrip("/"):
        return base + path
    return request.build_absolute_uri(path)


def guest_match(utility, data: dict) -> dict:
    """A guest's move-out against the contract of the typed number, as signup matches.
    One query whether or not the number exists: the same work, the same answer."""
    return match_contract(
        utility,
        data.get("customer_number", ""),
        name=data.get("name", ""),
        phone=data.get("phone", ""),
        address=data.get("address", ""),
        name_kana=data.get("name_kana", ""),
    )


def apply(
    request: HttpRequest, kind: str, data: dict, *, member=None, contract=None
) -> MoveApplication:
    """Save one application from a form's cleaned data; mail it and log it."""
    utility = request.utility
    fields = {
        key: data[key]
        for key in (
            "move_date",
            "address",
            "building",
            "final_bill_address",
            "payment",
            "wants_membership",
            "name",
            "name_kana",
            "new_name",
            "new_name_kana",
            "new_phone",
            "new_email",
            "relationship",
            "relationship_note",
        )
        if key in data
    }
    # A move-out's phone to call after the move; a 名義変更's holder's (typed to match it, or
    # the member's); a move-in's the one typed.
    phone = (
        data.get("contact_phone")
        or data.get("phone")
        or (member.phone if member else "")
        or data.get("new_phone", "")
    )
    application = MoveApplication(
        utility=utility,
        kind=kind,
        member=member,
        email=member.email if member else data["email"],
        phone=phone,
        **fields,
    )
    if kind in CONTRACT_KINDS:
        if contract is not None:  # a member's own contract: no evidence to weigh
            application.customer = contract
            application.customer_number = contract.number
            application.name = application.name or contract.name
            application.name_kana = application.name_kana or contract.name_kana
            application.address = contract.address
            application.building = contract.building
        else:
            number = data["customer_number"]
            match = guest_match(utility, data)
            application.customer_id = match["customer_id"]
            application.customer_number = number
            application.match = match
            if match["customer_id"] is not None and evidence_ok(match):
                # The holder named it: the CIS's row carries the contract's name and address
                # where the utility asks neither (Nayoro: number, kana, phone).
                customer = Customer.objects.get(pk=match["customer_id"])
                application.name = application.name or customer.name
                application.name_kana = application.name_kana or customer.name_kana
                application.address = application.address or customer.address
                application.building = application.building or customer.building
    elif member is not None:
        application.name = application.name or member.name
    today = timezone.localdate()
    try:
        with transaction.atomic():
            for _attempt in range(5):
                application.reference = _new_reference(today)
                if not MoveApplication.objects.filter(reference=application.reference).exists():
                    break
            application.save()
            enqueue_mail(
                utility,
                application.email,
                "moving/received",
                {
                    "application": _as_typed(application, data),
                    "status_url": status_url(request, application),
                },
                key=f"move_received:{application.pk}",
                member=member,
            )
            detail = {"reference": application.reference, "kind": kind}
            if member is not None:
                record_event(member, "move_applied", request=request, detail=detail)
            else:
                log_event("move_applied", request=request, application=application.pk, **detail)
    except IntegrityError as exc:
        raise Duplicate from exc
    return application


def _as_typed(application: MoveApplication, data: dict) -> MoveApplication:
    """The application as a guest typed it, for their receipt mail: the contract's name and
    place filled in for the CIS when the evidence matched are never shown to whoever typed
    the number (the same mail, matched or not)."""
    if application.member_id is not None or application.kind not in CONTRACT_KINDS:
        return application
    shown = copy.copy(application)
    for name in ("name", "name_kana", "address", "building"):
        setattr(shown, name, data.get(name, ""))
    return shown


# What a resident typed that staff may correct (a character the CIS cannot read, a typo).
CORRECTABLE = ("name", "name_kana", "address", "building", "final_bill_address")


def correct(request: HttpRequest, application: MoveApplication, values: dict) -> None:
    """Staff correct typed text (nothing mailed); the audit line names the fields."""
    with transaction.atomic():
        fresh = MoveApplication.objects.select_for_update().get(pk=application.pk)
        for name, value in values.items():
            setattr(fresh, name, value)
        fresh.save(update_fields=list(values))  # a move-in's place_key follows its address
        log_event(
            "move_corrected",
            request=request,
            utility=application.utility,
            member=request.user,
            application=application.pk,
            reference=application.reference,
            fields=",".join(sorted(values)),
        )


def handle(
    request: HttpRequest,
    application: MoveApplication,
    status: str,
    note: str,
    *,
    confirmed: bool = False,
) -> MoveApplication:
    """A staff action: set the status and the note, mail both, and log it. 完了 of a move-out
    or a 名義変更 ends the contract's member links on that day (their history up to it stays), and
    tells those members by mail; for a guest's unmatched application only once staff
    ``confirmed`` it is the holder's."""
    staff = request.user
    with transaction.atomic():
        application = MoveApplication.objects.select_for_update().get(pk=application.pk)
        application.status = status
        application.staff_note = note
        application.handled_by = staff
        application.handled_at = timezone.now()
        application.save()
        if (
            status == Status.DONE
            and application.names_contract
            and (application.matched or confirmed)
        ):
            _end_links(request, application)
        if status == Status.DONE:
            reach_contract(application.pk, request=request)
        enqueue_mail(
            application.utility,
            application.email,
            "moving/status",
            {
                "application": application,
                "note": note,
                "status_url": status_url(request, application),
            },
            key=f"move_status:{application.pk}:{application.handled_at.isoformat()}",
            member=application.member,
        )
        log_event(
            "move_handled",
            request=request,
            utility=application.utility,
            member=staff,
            application=application.pk,
            reference=application.reference,
            status=status,
        )
    return application


def _end_links(request: HttpRequest, application: MoveApplication) -> None:
    if application.customer_id is None:
        return
    links = ContractLink.objects.filter(customer_id=application.customer_id, ended_on=None)
    handed_over = application.kind == MoveApplication.Kind.NAME_CHANGE
    for link in links.select_related("member", "customer"):
        link.ended_on = application.move_date
        link.save(update_fields=["ended_on"])  # the signal drops the cached usage pages
        if link.member_id != application.member_id:  # the applicant has the 完了 mail
            enqueue_mail(
                application.utility,
                link.member.email,
                "moving/contract_ended",
                {"application": application, "customer": link.customer},
                key=f"move_contract_ended:{application.pk}:{link.pk}",
                member=link.member,
            )
        record_event(
            link.member,
            "contract_handed_over" if handed_over else "contract_ended",
            actor=request.user,
            request=request,
            detail={
                "customer_number": link.customer.number,
                "ended_on": application.move_date.isoformat(),
                "reference": application.reference,
            },
        )


# The new contract reaches the applicant's membership --------------------------------------


def existing_use(application: MoveApplication, number: str) -> str:
    """What the portal already holds under ``number`` that is not the applicant's new
    household: other members linked to it, periods (readings, bills) begun before the
    application's day — in one sentence naming the contract's holder and place for staff,
    "" when there is none (a new contract, as the CIS gives a move-in or a new holder)."""
    customer = Customer.objects.filter(utility_id=application.utility_id, number=number).first()
    if customer is None:
        return ""
    before = {"customer": customer, "period_start__lt": application.move_date}
    counts = {
        "members": ContractLink.objects.filter(customer=customer)
        .exclude(member_id=application.member_id)
        .count(),
        "readings": MeterReading.objects.filter(**before).count(),
        "bills": Payment.objects.filter(**before).count(),
    }
    words = {
        "members": _("会員%(n)d人の紐づけ"),
        "readings": _("%(day)sより前の検針%(n)d件"),
        "bills": _("%(day)sより前の請求%(n)d件"),
    }
    day = f"{application.move_date.year}年{application.move_date.month}月{application.move_date.day}日"
    found = [words[key] % {"n": n, "day": day} for key, n in counts.items() if n]
    if not found:
        return ""
    place = " ".join(part for part in (customer.address, customer.building) if part)
    return _(
        "この番号はすでにある契約です(%(name)s 様、%(place)s:%(found)s)。"
        "ほかの世帯の契約でないことを確かめてから、「すでにある契約と確かめた」に"
        "チェックを入れてください。"
    ) % {"name": customer.name, "place": place, "found": "、".join(found)}


def set_new_number(request: HttpRequest, application: MoveApplication, number: str) -> None:
    """Staff typed the contract number the CIS gave (a move-in, a 名義変更's new holder);
    a completed application reaches it at once if the portal has it, else at its import."""
    with transaction.atomic():
        MoveApplication.objects.filter(pk=application.pk, reached_at=None).update(
            new_customer_number=number, new_number_by=request.user
        )
        log_event(
            "move_number_set",
            request=request,
            utility=application.utility,
            member=request.user,
            application=application.pk,
            reference=application.reference,
            customer_number=number,
        )
        reach_contract(application.pk, request=request)


def contracts_imported(sender, utility, numbers, **kwargs) -> None:
    """billing.signals.customers_imported: completed applications waiting for one of these
    numbers reach it now (only this utility's; few wait at any time)."""
    arrived = set(numbers)
    waiting = (
        MoveApplication.objects.filter(
            utility=utility, status=Status.DONE, wants_membership=True, reached_at=None
        )
        .exclude(new_customer_number="")
        .values_list("pk", "new_customer_number")
    )
    for pk, number in list(waiting):
        if number in arrived:
            try:
                reach_contract(pk)
            except Exception:  # the contracts are committed: one application never fails them
                logger.exception("moving: application %s could not reach contract %s", pk, number)


def _member_to_link(application: MoveApplication) -> Member | None:
    """Whose membership the new contract joins: a member's move-in, or a member's 名義変更
    naming their own address as the new holder's. None: the new holder is not known as a
    member (a guest, another person, a member who left)."""
    member = application.member
    if member is None or member.status in (Member.Status.WITHDRAWN, Member.Status.REJECTED):
        return None
    if member.utility_id != application.utility_id:
        return None
    if application.kind == MoveApplication.Kind.NAME_CHANGE and (
        application.new_email.casefold() != member.email.casefold()
    ):
        return None
    return member


def reach_contract(pk: int, request: HttpRequest | None = None) -> bool:
    """If application ``pk`` is completed, asked for a membership, has its new number and the
    portal has that contract (of its own utility), link the member to it and mail
    「ご契約がポータルに追加されました」 — past the utility's members-per-contract cap it waits
    for staff as a 契約の追加 request — or mail a guest how to sign up with the number. Once
    only (``reached_at``). Returns whether it was done now."""
    with transaction.atomic():
        application = (
            MoveApplication.objects.select_for_update(of=("self",))
            .select_related("utility", "member", "new_number_by")
            .get(pk=pk)
        )
        number = application.new_customer_number
        if (
            application.reached_at is not None
            or application.status != Status.DONE
            or not application.leads_to_contract
            or not number
        ):
            return False
        utility = application.utility
        customer = Customer.objects.filter(utility=utility, number=number).first()
        if customer is None:
            return False  # the CIS import brings it (contracts_imported)
        member, staff = _member_to_link(application), application.new_number_by
        detail = {"customer_number": number, "reference": application.reference}
        if member is None:
            outcome = "guided"
            enqueue_mail(
                utility,
                application.new_email or application.email,
                "moving/signup_guide",
                {
                    "application": application,
                    "number": number,
                    "signup_url": _signup_url(utility, request),
                },
                key=f"move_signup_guide:{application.pk}",
            )
        elif has_room_for_another_member(customer):
            outcome = "linked"
            new = not ContractLink.objects.filter(member=member, customer=customer).exists()
            link = link_contract(member, customer, staff)
            if new:  # the member's periods start on the day they became the customer
                link.started_on = application.move_date
                link.save(update_fields=["started_on"])
            elif link.ended_on is not None:  # a 名義変更 to themselves ended it a moment ago
                link.ended_on = None
                link.save(update_fields=["ended_on"])
            record_event(member, "contract_added", actor=staff, request=request, detail=detail)
            enqueue_mail(
                utility,
                member.email,
                "moving/contract_added",
                {"application": application, "number": number},
                key=f"move_contract_added:{application.pk}",
                member=member,
            )
        else:
            outcome = "requested"  # the family cap: staff review it as any 契約の追加
            ContractRequest.objects.get_or_create(
                member=member,
                customer_number=number,
                status=ContractRequest.Status.PENDING,
                defaults={
                    "customer": customer,
                    "match": {"customer_id": customer.pk, "number": True},
                    "name": application.new_name or application.name,
                    "name_kana": application.new_name_kana or application.name_kana,
                    "phone": application.new_phone or application.phone,
                    "address": application.address,
                },
            )
            record_event(member, "contract_requested", request=request, detail=detail)
        application.reached_at = timezone.now()
        application.save(update_fields=["reached_at"])
        log_event(
            "move_contract_reached",
            request=request,
            utility=utility,
            application=application.pk,
            reference=application.reference,
            outcome=outcome,
        )
    return True


def _signup_url(utility, request: HttpRequest | None) -> str:
    """Where to sign up: on PORTAL_BASE_URL, else the request's host; "" without either (a
    worker's import: the mail then names the portal without a link)."""
    path = reverse("accounts:signup", args=[utility.slug])
    if base := settings.PORTAL_BASE_URL.rstrip("/"):
        return base + path
    return request.build_absolute_uri(path) if request is not None else ""

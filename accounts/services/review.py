"""Staff review of pending members: pick a contract, approve (guide mail) or reject."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from billing.models import Customer
from portal import normalize

from .. import emails
from ..models import ContractLink, Member, MemberEvent
from .matching import match_contract

logger = logging.getLogger(__name__)

# What the mail backends raise when the server refuses or cannot be reached.
MAIL_ERRORS = (smtplib.SMTPException, OSError)


class ReviewError(Exception):
    """Base of everything staff review refuses."""


class AlreadyReviewed(ReviewError):
    """The member is no longer pending (approved or rejected by someone already)."""


class ContractRequired(ReviewError):
    """No contract matched the number: staff must pick one before approving."""


class ContractNotFound(ReviewError):
    """No contract of the member's utility has that number."""


class NotAllowed(ReviewError):
    """The staff member does not look after the member's utility."""


# Staff review -----------------------------------------------------------------------------


def _check_reviewer(staff: Member, member: Member) -> None:
    if staff.is_superuser:
        return
    if not staff.is_staff or staff.utility_id is None or staff.utility_id != member.utility_id:
        raise NotAllowed


def activate_member(member: Member, customer: Customer, staff: Member | None) -> None:
    now = timezone.now()
    ContractLink.objects.update_or_create(
        member=member, customer=customer, defaults={"approved_by": staff, "approved_at": now}
    )
    member.status = Member.Status.ACTIVE
    member.reviewed_by = staff
    member.reviewed_at = now
    member.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    MemberEvent.objects.create(
        member=member,
        actor=staff,
        action="approved" if staff else "auto_approved",
        detail={"customer_number": customer.number},
    )


def _chosen_customer(member: Member) -> Customer | None:
    customer_id = (member.signup_match or {}).get("customer_id")
    if customer_id is None:
        return None
    return Customer.objects.filter(pk=customer_id, utility_id=member.utility_id).first()


def choose_contract(member: Member, number: str, staff: Member) -> Member:
    """Match a pending member against the contract staff picked by its number."""
    _check_reviewer(staff, member)
    customer = Customer.objects.filter(
        utility_id=member.utility_id, number=normalize.digits(number)
    ).first()
    if customer is None:
        raise ContractNotFound
    member.signup_match = match_contract(
        member.utility,
        number=member.signup_customer_number,
        name=member.name,
        phone=member.phone,
        address=member.address,
        name_kana=member.name_kana,
        customer=customer,
    )
    member.save(update_fields=["signup_match"])
    MemberEvent.objects.create(
        member=member, actor=staff, action="contract_chosen", detail={"customer_number": number}
    )
    return member


def approve_member(member: Member, staff: Member, portal_url: str) -> bool:
    """Link the member to its contract, activate it and send the guide mail, exactly once.

    ``portal_url`` is the site's scheme and host. Returns whether the mail went out.
    Raises AlreadyReviewed, ContractRequired or NotAllowed.
    """
    with transaction.atomic():
        # The row lock makes a second, simultaneous approval wait and then see "active".
        locked = Member.objects.select_for_update().get(pk=member.pk)
        _check_reviewer(staff, locked)
        if locked.status != Member.Status.PENDING:
            raise AlreadyReviewed
        customer = _chosen_customer(locked)
        if customer is None:
            raise ContractRequired
        activate_member(locked, customer, staff)
    login_url = portal_url.rstrip("/") + reverse("accounts:login", args=[locked.utility.slug])
    return send_or_record(
        locked, "member_approved", lambda: emails.send_member_approved(locked, login_url)
    )


def reject_member(member: Member, staff: Member, reason: str) -> bool:
    """Refuse a pending member with a reason and mail the reason. Returns whether it went out."""
    with transaction.atomic():
        locked = Member.objects.select_for_update().get(pk=member.pk)
        _check_reviewer(staff, locked)
        if locked.status != Member.Status.PENDING:
            raise AlreadyReviewed
        locked.status = Member.Status.REJECTED
        locked.rejection_reason = reason.strip()
        locked.reviewed_by = staff
        locked.reviewed_at = timezone.now()
        locked.save(update_fields=["status", "rejection_reason", "reviewed_by", "reviewed_at"])
        MemberEvent.objects.create(
            member=locked, actor=staff, action="rejected", detail={"reason": reason}
        )
    return send_or_record(locked, "member_rejected", lambda: emails.send_member_rejected(locked))


def send_or_record(member: Member, mail: str, send: Callable[[], None]) -> bool:
    """Send a mail about a saved member; on failure, log it and record it for staff."""
    try:
        send()
    except MAIL_ERRORS:
        logger.exception("mail %s to member %s could not be sent", mail, member.pk)
        MemberEvent.objects.create(member=member, action="mail_failed", detail={"mail": mail})
        return False
    return True

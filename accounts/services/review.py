"""Staff review: pending members (pick a contract, approve with the guide mail, or reject)
and contracts members asked to add from 会員情報."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from billing.models import Customer
from portal import normalize

from .. import challenges, emails
from ..audit import log_event
from ..models import ContractRequest, Member, MemberEvent
from .base import record_event
from .contracts import activate_member, link_contract
from .matching import match_contract


class ReviewError(Exception):
    """Base of everything staff review refuses."""


class AlreadyReviewed(ReviewError):
    """No longer pending (approved or rejected by someone already)."""


class ContractRequired(ReviewError):
    """No contract matched the number: staff must pick one before approving."""


class ContractNotFound(ReviewError):
    """No contract of the member's utility has that number."""


class NotAllowed(ReviewError):
    """The staff member does not look after the member's utility."""


def check_reviewer(staff: Member, member: Member) -> None:
    if staff.is_superuser:
        return
    if not staff.is_staff or staff.utility_id is None or staff.utility_id != member.utility_id:
        raise NotAllowed


def record_staff_edit(member: Member, staff: Member, fields: list[str]) -> None:
    """Record which fields staff changed on the member page; a new address or status
    retires every link and code still out (a reset link must not reach the old address)."""
    if {"email", "status"} & set(fields):
        challenges.retire_member(member)
    record_event(member, "edited_by_staff", actor=staff, detail={"fields": fields})


# Pending members ----------------------------------------------------------------------------


def _chosen_customer(member: Member) -> Customer | None:
    customer_id = (member.signup_match or {}).get("customer_id")
    if customer_id is None:
        return None
    return Customer.objects.filter(pk=customer_id, utility_id=member.utility_id).first()


def choose_contract(member: Member, number: str, staff: Member) -> Member:
    """Match a pending member against the contract staff picked by its number."""
    check_reviewer(staff, member)
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
    record_event(member, "contract_chosen", actor=staff, detail={"customer_number": number})
    return member


def approve_member(member: Member, staff: Member, portal_url: str) -> None:
    """Link the member to its contract, activate it and send the guide mail, exactly once.

    ``portal_url`` is the site's scheme and host.
    Raises AlreadyReviewed, ContractRequired or NotAllowed.
    """
    with transaction.atomic():
        # The row lock makes a second, simultaneous approval wait and then see "active".
        locked = Member.objects.select_for_update().get(pk=member.pk)
        check_reviewer(staff, locked)
        if locked.status != Member.Status.PENDING:
            raise AlreadyReviewed
        customer = _chosen_customer(locked)
        if customer is None:
            raise ContractRequired
        activate_member(locked, customer, staff)
        login_url = portal_url.rstrip("/") + reverse("accounts:login", args=[locked.utility.slug])
        emails.send_member_approved(locked, login_url)


def reject_member(member: Member, staff: Member, reason: str) -> None:
    """Refuse a pending member with a reason and mail the reason."""
    with transaction.atomic():
        locked = Member.objects.select_for_update().get(pk=member.pk)
        check_reviewer(staff, locked)
        if locked.status != Member.Status.PENDING:
            raise AlreadyReviewed
        locked.status = Member.Status.REJECTED
        locked.rejection_reason = reason.strip()
        locked.reviewed_by = staff
        locked.reviewed_at = timezone.now()
        locked.save(update_fields=["status", "rejection_reason", "reviewed_by", "reviewed_at"])
        # The reason is free text for the member: kept for staff, not copied to the log.
        MemberEvent.objects.create(
            member=locked, actor=staff, action="rejected", detail={"reason": reason}
        )
        log_event("rejected", member=locked, staff=staff.pk)
        emails.send_member_rejected(locked)


# Contracts members asked to add -----------------------------------------------------------


def _lock_pending_request(contract_request: ContractRequest, staff: Member) -> ContractRequest:
    locked = ContractRequest.objects.select_for_update().get(pk=contract_request.pk)
    check_reviewer(staff, locked.member)
    if locked.status != ContractRequest.Status.PENDING:
        raise AlreadyReviewed
    return locked


def approve_contract_request(contract_request: ContractRequest, staff: Member) -> None:
    """Link the requested contract and mail the member.

    Raises AlreadyReviewed, ContractRequired or NotAllowed.
    """
    with transaction.atomic():
        locked = _lock_pending_request(contract_request, staff)
        member, customer = locked.member, locked.customer
        if customer is None or customer.utility_id != member.utility_id:
            raise ContractRequired
        link_contract(member, customer, staff)
        locked.status = ContractRequest.Status.APPROVED
        locked.reviewed_by, locked.reviewed_at = staff, timezone.now()
        locked.save(update_fields=["status", "reviewed_by", "reviewed_at"])
        record_event(
            member,
            "contract_request_approved",
            actor=staff,
            detail={"customer_number": customer.number},
        )
        emails.send_contract_added(member, customer.number)


def reject_contract_request(contract_request: ContractRequest, staff: Member) -> None:
    """Refuse a request and mail the member."""
    with transaction.atomic():
        locked = _lock_pending_request(contract_request, staff)
        member, number = locked.member, locked.customer_number
        locked.status = ContractRequest.Status.REJECTED
        locked.reviewed_by, locked.reviewed_at = staff, timezone.now()
        locked.save(update_fields=["status", "reviewed_by", "reviewed_at"])
        record_event(
            member, "contract_request_rejected", actor=staff, detail={"customer_number": number}
        )
        emails.send_contract_request_rejected(member, number, locked.pk)

"""A member's right to see a contract: linking it, activating on it, and the family cap.

Families may share a contract (seed 003's 申込者と契約者の関係), but not without limit: past
the utility's ``max_members_per_contract`` a new member or added contract waits for staff.
"""

from __future__ import annotations

from django.utils import timezone

from billing.models import Customer

from ..models import ContractLink, Member
from .base import record_event


def has_room_for_another_member(customer: Customer) -> bool:
    """Tell whether one more member may see ``customer`` without staff review.

    Locks the contract's row (call inside a transaction), so simultaneous signups on one
    contract are counted one after the other and never all slip under the cap.
    """
    locked = Customer.objects.select_for_update().select_related("utility").get(pk=customer.pk)
    seeing = (
        ContractLink.objects.filter(customer=locked)
        .exclude(member__status=Member.Status.WITHDRAWN)
        .count()
    )
    return seeing < locked.utility.max_members_per_contract


def link_contract(member: Member, customer: Customer, staff: Member | None) -> ContractLink:
    """Let ``member`` see ``customer``, recording who approved it (None: the portal)."""
    link, _created = ContractLink.objects.update_or_create(
        member=member,
        customer=customer,
        defaults={"approved_by": staff, "approved_at": timezone.now()},
    )
    return link


def activate_member(member: Member, customer: Customer, staff: Member | None) -> None:
    """Link the member's contract and let the member in (staff approval or automatic)."""
    link_contract(member, customer, staff)
    member.status = Member.Status.ACTIVE
    member.reviewed_by = staff
    member.reviewed_at = timezone.now()
    member.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    record_event(
        member,
        "approved" if staff else "auto_approved",
        actor=staff,
        by_portal=staff is None,
        detail={"customer_number": customer.number},
    )

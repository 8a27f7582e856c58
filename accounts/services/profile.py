"""A member's own account settings (会員情報): password, secret question, 消費税申告の有無,
email address, added contracts and withdrawal.

Every change is written as a MemberEvent (staff read them in the admin) and to the audit
log through ``record_event``; neither ever holds a password, token, code or answer. A change
of address, password or secret answer, and withdrawal, retire every link and code still out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from billing.models import Customer
from portal import normalize
from portal.models import Utility

from .. import challenges, emails, ratelimit
from ..models import ContractRequest, EmailChallenge, Member
from .base import NotStarted, record_event
from .contracts import has_room_for_another_member, link_contract
from .matching import identity_matches, match_contract

EMAIL_CHANGE = EmailChallenge.Purpose.EMAIL_CHANGE
EMAIL_CHANGE_SESSION_KEY = (
    "accounts.email_change"  # {"member", "token"} or {"member", "email", "challenge"}
)
WITHDRAW_SESSION_KEY = "accounts.withdraw"  # {"member", "confirmed_at"}: password checked
WITHDRAW_CONFIRM_TTL = timedelta(minutes=10)
ADDED = "added"
REQUESTED = "requested"


class EmailChangeFailed(Exception):
    """The new address became another member's meanwhile; nothing was changed."""


class ContractAlreadyLinked(Exception):
    """The member already sees this contract."""


class ContractAlreadyRequested(Exception):
    """A request for this contract is already waiting for staff."""


class WithdrawalNotConfirmed(Exception):
    """The confirmation step was skipped or is too old."""


def count_password_check(request: HttpRequest, member: Member) -> None:
    """Count one form that checks the current password; raise RateLimited when too many."""
    ratelimit.check_member_limit(request, ratelimit.PASSWORD_CHECK_PER_MEMBER, member.pk)


# Password, secret question, 消費税申告の有無 --------------------------------------------------


def change_password(request: HttpRequest, member: Member, password: str) -> None:
    """Set a new password, keep this session, end the others and mail a notice."""
    with transaction.atomic():
        member.set_password(password)
        member.save(update_fields=["password"])
        challenges.retire_member(member)
        record_event(member, "password_changed", request=request)
        emails.send_password_changed(member)
    update_session_auth_hash(request, member)


def change_secret_question(
    request: HttpRequest, member: Member, question: str, answer: str
) -> None:
    """Store a new secret question and the hashed, normalised answer."""
    with transaction.atomic():
        member.secret_question = question
        member.secret_answer_hash = make_password(normalize.secret_answer(answer))
        member.recovery_failures = 0
        member.save(update_fields=["secret_question", "secret_answer_hash", "recovery_failures"])
        challenges.retire_member(member)
        record_event(
            member, "secret_question_changed", request=request, detail={"question": question}
        )


def change_name(request: HttpRequest, member: Member, name: str) -> None:
    """Store the name (a nickname) the portal uses in its notices and mails."""
    if member.name == name:
        return
    with transaction.atomic():
        member.name = name
        member.save(update_fields=["name"])
        record_event(member, "name_changed", request=request)


MAIL_CHOICES = ("wants_bill_mail", "wants_alert_mail", "wants_notice_mail")


def change_mail_choices(request: HttpRequest, member: Member, choices: dict[str, bool]) -> None:
    """Store which mails the member receives (each choice kept, whatever the default later)."""
    before = {field: member.wants_mail(field.split("_")[1]) for field in MAIL_CHOICES}
    with transaction.atomic():
        for field in MAIL_CHOICES:
            setattr(member, field, bool(choices[field]))
        member.save(update_fields=list(MAIL_CHOICES))
        changed = {f: choices[f] for f in MAIL_CHOICES if before[f] != choices[f]}
        if changed:
            record_event(member, "mail_choices_changed", request=request, detail=changed)


def change_tax_declaration(request: HttpRequest, member: Member, value: str) -> None:
    """Store the answer to 消費税申告の有無."""
    before = member.tax_declaration
    if before == value:
        return
    with transaction.atomic():
        member.tax_declaration = value
        member.save(update_fields=["tax_declaration"])
        record_event(
            member,
            "tax_declaration_changed",
            request=request,
            detail={"from": before, "to": value},
        )


# Email change -------------------------------------------------------------------------------


def start_email_change(request: HttpRequest, member: Member, new_email: str) -> None:
    """Send a link or code proving ``new_email``; the old address changes only after that.

    If another member of the utility has the address, its owner gets a mail saying so and
    nothing changes; the screen is the same, so it tells nobody whose address it is.
    Raises RateLimited.
    """
    ratelimit.check_member_limit(request, ratelimit.EMAIL_CHANGE_PER_MEMBER, member.pk)
    utility = member.utility
    request.session.pop(EMAIL_CHANGE_SESSION_KEY, None)
    taken = (
        Member.objects.holders(utility)
        .filter(email__iexact=new_email)
        .exclude(pk=member.pk)
        .exists()
    )
    with transaction.atomic():
        challenges.retire(member=member, purpose=EMAIL_CHANGE)
        record_event(member, "email_change_requested", request=request, detail={"new": new_email})
        if utility.verification == Utility.Verification.CODE:
            _issue_email_code(request, member, new_email, taken)
        elif taken:
            emails.send_email_change_taken(utility, new_email)
        else:
            _issue_email_link(request, member, new_email)


def _issue_email_link(request: HttpRequest, member: Member, new_email: str) -> None:
    challenge, token = challenges.issue_link(member.utility, EMAIL_CHANGE, new_email, member=member)
    path = reverse("accounts:profile_email_link", args=[member.utility.slug, token])
    url = request.build_absolute_uri(path)
    emails.send_email_change_link(member, new_email, url, challenge)


def _issue_email_code(request: HttpRequest, member: Member, new_email: str, taken: bool) -> None:
    """A taken address gets a code no one can pass (and its owner a "taken" mail)."""
    challenge, code = challenges.issue_code(
        member.utility, EMAIL_CHANGE, new_email, member=member, answerable=not taken
    )
    if taken:
        emails.send_email_change_taken(member.utility, new_email)
    else:
        emails.send_email_change_code(member, new_email, code, challenge)
    request.session[EMAIL_CHANGE_SESSION_KEY] = {
        "member": member.pk,
        "email": new_email,
        "challenge": challenge.pk,
    }


def stash_email_change_link(request: HttpRequest, token: str) -> None:
    """Keep a confirmation-link token in the session only; the confirm page's POST uses it."""
    request.session[EMAIL_CHANGE_SESSION_KEY] = {"token": token}


def _email_link_challenge(
    request: HttpRequest, member: Member, for_update: bool = False
) -> EmailChallenge:
    state = request.session.get(EMAIL_CHANGE_SESSION_KEY)
    if not state or "token" not in state:
        raise NotStarted
    # member=: a link opened in another member's session is simply not theirs.
    return challenges.open_link(
        member.utility, EMAIL_CHANGE, state["token"], member=member, for_update=for_update
    )


def pending_email_change(request: HttpRequest, member: Member) -> str:
    """Return the new address the stashed link would confirm, using nothing up."""
    return _email_link_challenge(request, member).email


def confirm_email_change(request: HttpRequest, member: Member) -> str:
    """Use the stashed link up and change the address. Returns the new address."""
    with transaction.atomic():
        challenge = _email_link_challenge(request, member, for_update=True)
        _apply_email_change(request, member, challenge)
    request.session.pop(EMAIL_CHANGE_SESSION_KEY, None)
    return challenge.email


def email_change_code_target(request: HttpRequest, member: Member) -> str:
    """Return the new address a code was sent to in this session."""
    state = request.session.get(EMAIL_CHANGE_SESSION_KEY)
    if not state or state.get("member") != member.pk or "email" not in state:
        raise NotStarted
    return state["email"]


def confirm_email_change_code(request: HttpRequest, member: Member, code: str) -> str:
    """Check the code sent to the new address; a right one changes the address.

    Raises RateLimited, NotStarted, a challenges.ChallengeError or EmailChangeFailed.
    Returns the new address.
    """
    ratelimit.check_recovery_code(request)
    email = email_change_code_target(request, member)
    challenge_id = request.session[EMAIL_CHANGE_SESSION_KEY]["challenge"]
    challenge = challenges.check_code(
        member.utility, EMAIL_CHANGE, challenge_id, code, member=member
    )
    with transaction.atomic():
        _apply_email_change(request, member, challenge)
    request.session.pop(EMAIL_CHANGE_SESSION_KEY, None)
    return email


def _apply_email_change(request: HttpRequest, member: Member, challenge: EmailChallenge) -> str:
    old, new = member.email, challenge.email
    member.email = new
    try:
        with transaction.atomic():
            member.save(update_fields=["email"])
    except IntegrityError as exc:
        member.email = old
        raise EmailChangeFailed from exc
    challenges.retire_member(member)  # this proof, and every other one still out
    record_event(member, "email_changed", request=request, detail={"old": old, "new": new})
    emails.send_email_changed(member, old)  # the old address hears of it
    return old


# Contracts ----------------------------------------------------------------------------------


def add_contract(request: HttpRequest, member: Member, values: dict) -> str:
    """Link one more contract, at once (activation "auto", a full match, room) or after staff.

    ``values`` holds customer_number, name, phone and, where the utility asks them, address
    and name_kana. Returns ADDED or REQUESTED. Raises RateLimited, ContractAlreadyLinked or
    ContractAlreadyRequested. The screen never says whether a number exists.
    """
    ratelimit.check_member_limit(request, ratelimit.CONTRACT_ADD_PER_MEMBER, member.pk)
    utility = member.utility
    number = normalize.digits(values["customer_number"])
    if member.contract_links.filter(customer__utility=utility, customer__number=number).exists():
        raise ContractAlreadyLinked
    if member.contract_requests.filter(
        status=ContractRequest.Status.PENDING, customer_number=number
    ).exists():
        raise ContractAlreadyRequested
    typed = {key: values.get(key, "") for key in ("name", "phone", "address", "name_kana")}
    match = match_contract(utility, number=number, **typed)
    detail = {"customer_number": number}
    with transaction.atomic():
        customer = _addable_at_once(utility, match)
        if customer is not None:
            link_contract(member, customer, staff=None)
            record_event(member, "contract_added", request=request, detail=detail)
            emails.send_contract_added(member, number)
        else:
            ContractRequest.objects.create(
                member=member,
                customer_id=match["customer_id"],
                customer_number=number,
                match=match,
                **typed,
            )
            record_event(member, "contract_requested", request=request, detail=detail)
    return REQUESTED if customer is None else ADDED


def _addable_at_once(utility: Utility, match: dict) -> Customer | None:
    if utility.activation != Utility.Activation.AUTO or not identity_matches(utility, match):
        return None
    customer = Customer.objects.get(pk=match["customer_id"])
    return customer if has_room_for_another_member(customer) else None


# Withdrawal (退会) ------------------------------------------------------------------------


def confirm_withdrawal_intent(request: HttpRequest, member: Member) -> None:
    """Remember that this session checked the password on the first withdrawal step."""
    request.session[WITHDRAW_SESSION_KEY] = {
        "member": member.pk,
        "confirmed_at": timezone.now().isoformat(),
    }


def withdrawal_confirmed(request: HttpRequest, member: Member) -> bool:
    state = request.session.get(WITHDRAW_SESSION_KEY)
    if not state or state.get("member") != member.pk:
        return False
    return timezone.now() - datetime.fromisoformat(state["confirmed_at"]) <= WITHDRAW_CONFIRM_TTL


def withdraw_member(request: HttpRequest, member: Member) -> None:
    """End the membership: no more logins, pending requests and mails end, staff keep the record.

    Signs this session out (the others end too: only active members are ever loaded).
    Raises WithdrawalNotConfirmed.
    """
    if not withdrawal_confirmed(request, member):
        raise WithdrawalNotConfirmed
    with transaction.atomic():
        locked = Member.objects.select_for_update().get(pk=member.pk)
        locked.status = Member.Status.WITHDRAWN
        locked.withdrawn_at = timezone.now()
        locked.save(update_fields=["status", "withdrawn_at"])
        locked.contract_requests.filter(status=ContractRequest.Status.PENDING).update(
            status=ContractRequest.Status.CANCELLED
        )
        challenges.retire_member(locked)
        record_event(locked, "withdrawn", request=request)
        emails.send_withdrawn(locked)
    logout(request)

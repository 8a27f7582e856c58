"""A member's own account settings (会員情報, issue 5), and staff review of added contracts.

Every change is written as a MemberEvent (staff read them in the admin) and to the audit
log through ``record_event``; neither ever holds a password, token, code or answer.
"""

from __future__ import annotations

import logging
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

from .. import emails, ratelimit, tokens
from ..audit import log_event
from ..models import ContractLink, ContractRequest, EmailChallenge, Member, MemberEvent
from .matching import identity_matches, match_contract
from .review import MAIL_ERRORS, send_or_record
from .signup import MailNotSent

logger = logging.getLogger(__name__)

EMAIL_CHANGE_SESSION_KEY = (
    "accounts.email_change"  # {"member", "token"} or {"member", "email", "tries"}
)
WITHDRAW_SESSION_KEY = "accounts.withdraw"  # {"member", "confirmed_at"}: password checked
WITHDRAW_CONFIRM_TTL = timedelta(minutes=10)
EMAIL_CODE_MAX_ATTEMPTS = 5


class ProfileError(Exception):
    """Base of everything the account settings refuse."""


class EmailChangeNotStarted(ProfileError):
    """This session has no email change under way."""


class EmailChangeInvalid(ProfileError):
    """The confirmation link was not made by us, was cut, or belongs to someone else."""


class EmailChangeExpired(ProfileError):
    """The confirmation link or code is past its time to live."""


class EmailChangeUsed(ProfileError):
    """The confirmation link was already used (or a newer change replaced it)."""


class EmailChangeFailed(ProfileError):
    """The new address became another member's meanwhile; nothing was changed."""


class WrongEmailCode(ProfileError):
    """The code is wrong or expired."""


class EmailCodeAttemptsUsedUp(ProfileError):
    """Five wrong codes: ask for a new one."""


class ContractAlreadyLinked(ProfileError):
    """The member already sees this contract."""


class ContractAlreadyRequested(ProfileError):
    """A request for this contract is already waiting for staff."""


class WithdrawalNotConfirmed(ProfileError):
    """The confirmation step was skipped or is too old."""


class ContractRequestReviewed(ProfileError):
    """Staff review: the request is no longer pending."""


class ContractRequestNeedsContract(ProfileError):
    """Staff review: no contract was found for the number; pick one before approving."""


class ContractRequestNotAllowed(ProfileError):
    """Staff review: the staff member does not look after the member's utility."""


def record_event(
    member: Member,
    action: str,
    *,
    actor: Member | None = None,
    request: HttpRequest | None = None,
    detail: dict | None = None,
) -> MemberEvent:
    """Record one change for staff (MemberEvent) and the audit log; the member acts by default."""
    detail = detail or {}
    log_event(action, request=request, member=member, **detail)
    return MemberEvent.objects.create(
        member=member, actor=actor or member, action=action, detail=detail
    )


def count_password_check(request: HttpRequest, member: Member) -> None:
    """Count one form that checks the current password; raise RateLimited when too many."""
    ratelimit.check_member_limit(request, ratelimit.PASSWORD_CHECK_PER_MEMBER, member.pk)


# Password, secret question, 消費税申告の有無 --------------------------------------------------


def change_password(request: HttpRequest, member: Member, password: str) -> None:
    """Set a new password, keep this session, end the others and mail a notice."""
    with transaction.atomic():
        member.set_password(password)
        member.save(update_fields=["password"])
        record_event(member, "password_changed", request=request)
    update_session_auth_hash(request, member)
    send_or_record(member, "password_changed", lambda: emails.send_password_changed(member))


def change_secret_question(
    request: HttpRequest, member: Member, question: str, answer: str
) -> None:
    """Store a new secret question and the hashed, normalised answer."""
    with transaction.atomic():
        member.secret_question = question
        member.secret_answer_hash = make_password(normalize.secret_answer(answer))
        member.recovery_failures = 0
        member.save(update_fields=["secret_question", "secret_answer_hash", "recovery_failures"])
        record_event(
            member, "secret_question_changed", request=request, detail={"question": question}
        )


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
    Raises RateLimited or MailNotSent.
    """
    ratelimit.check_member_limit(request, ratelimit.EMAIL_CHANGE_PER_MEMBER, member.pk)
    utility = member.utility
    _end_email_challenges(member)
    request.session.pop(EMAIL_CHANGE_SESSION_KEY, None)
    if utility.verification == Utility.Verification.CODE:
        request.session[EMAIL_CHANGE_SESSION_KEY] = {
            "member": member.pk,
            "email": new_email,
            "tries": 0,
        }
    taken = (
        Member.objects.holders(utility)
        .filter(email__iexact=new_email)
        .exclude(pk=member.pk)
        .exists()
    )
    with transaction.atomic():
        record_event(member, "email_change_requested", request=request, detail={"new": new_email})
        if taken:
            _send_or_raise(lambda: emails.send_email_change_taken(utility, new_email))
        elif utility.verification == Utility.Verification.CODE:
            _issue_email_code(member, new_email)
        else:
            _issue_email_link(request, member, new_email)


def _send_or_raise(send) -> None:
    try:
        send()
    except MAIL_ERRORS as exc:
        logger.warning("email-change mail could not be sent: %s", exc)
        raise MailNotSent from exc


def _end_email_challenges(member: Member) -> None:
    EmailChallenge.objects.filter(
        member=member, purpose=EmailChallenge.Purpose.EMAIL_CHANGE, used_at__isnull=True
    ).update(used_at=timezone.now())


def _new_email_challenge(member: Member, email: str, secret_hash: str, ttl: timedelta, tries: int):
    return EmailChallenge.objects.create(
        utility=member.utility,
        member=member,
        purpose=EmailChallenge.Purpose.EMAIL_CHANGE,
        email=email,
        secret_hash=secret_hash,
        expires_at=timezone.now() + ttl,
        attempts_left=tries,
    )


def _issue_email_link(request: HttpRequest, member: Member, new_email: str) -> None:
    nonce = tokens.new_nonce()
    ttl = timedelta(hours=member.utility.signup_link_ttl_hours)
    challenge = _new_email_challenge(member, new_email, tokens.hash_nonce(nonce), ttl, 1)
    token = tokens.make_link_token(challenge.pk, nonce, salt=tokens.EMAIL_CHANGE_LINK_SALT)
    path = reverse("accounts:profile_email_link", args=[member.utility.slug, token])
    url = request.build_absolute_uri(path)
    _send_or_raise(
        lambda: emails.send_email_change_link(member, new_email, url, challenge.expires_at)
    )


def _issue_email_code(member: Member, new_email: str) -> None:
    code = tokens.make_code()
    ttl = timedelta(minutes=member.utility.code_ttl_minutes)
    challenge = _new_email_challenge(
        member, new_email, make_password(code), ttl, EMAIL_CODE_MAX_ATTEMPTS
    )
    _send_or_raise(
        lambda: emails.send_email_change_code(member, new_email, code, challenge.expires_at)
    )


def stash_email_change_link(request: HttpRequest, token: str) -> None:
    """Keep a confirmation-link token in the session only; the confirm page's POST uses it."""
    request.session[EMAIL_CHANGE_SESSION_KEY] = {"token": token}


def _email_link_challenge(
    request: HttpRequest, member: Member, for_update: bool = False
) -> EmailChallenge:
    state = request.session.get(EMAIL_CHANGE_SESSION_KEY)
    if not state or "token" not in state:
        raise EmailChangeNotStarted
    ttl = timedelta(hours=member.utility.signup_link_ttl_hours)
    try:
        challenge_id, nonce = tokens.read_link_token(
            state["token"], max_age=ttl, salt=tokens.EMAIL_CHANGE_LINK_SALT
        )
    except tokens.TokenExpired as exc:
        raise EmailChangeExpired from exc
    except tokens.TokenInvalid as exc:
        raise EmailChangeInvalid from exc
    challenges = EmailChallenge.objects.filter(
        pk=challenge_id, member=member, purpose=EmailChallenge.Purpose.EMAIL_CHANGE
    )
    if for_update:
        challenges = challenges.select_for_update()
    challenge = challenges.first()
    # A link opened in another member's session is simply not theirs.
    if challenge is None or not tokens.nonce_matches(nonce, challenge.secret_hash):
        raise EmailChangeInvalid
    if challenge.used_at is not None:
        raise EmailChangeUsed
    if challenge.expires_at <= timezone.now():
        raise EmailChangeExpired
    return challenge


def pending_email_change(request: HttpRequest, member: Member) -> str:
    """Return the new address the stashed link would confirm, using nothing up."""
    return _email_link_challenge(request, member).email


def confirm_email_change(request: HttpRequest, member: Member) -> str:
    """Use the stashed link up and change the address. Returns the new address."""
    with transaction.atomic():
        challenge = _email_link_challenge(request, member, for_update=True)
        old = _apply_email_change(request, member, challenge)
    request.session.pop(EMAIL_CHANGE_SESSION_KEY, None)
    _tell_old_address(member, old)
    return challenge.email


def email_change_code_target(request: HttpRequest, member: Member) -> str:
    """Return the new address a code was sent to in this session."""
    state = request.session.get(EMAIL_CHANGE_SESSION_KEY)
    if not state or state.get("member") != member.pk or "email" not in state:
        raise EmailChangeNotStarted
    return state["email"]


def confirm_email_change_code(request: HttpRequest, member: Member, code: str) -> str:
    """Check the code sent to the new address; a right one changes the address.

    Raises RateLimited, EmailChangeNotStarted, WrongEmailCode, EmailCodeAttemptsUsedUp or
    EmailChangeFailed. Returns the new address.
    """
    ratelimit.check_recovery_code(request)
    email = email_change_code_target(request, member)
    state = request.session[EMAIL_CHANGE_SESSION_KEY]
    if state["tries"] >= EMAIL_CODE_MAX_ATTEMPTS:
        raise EmailCodeAttemptsUsedUp
    with transaction.atomic():
        challenge = EmailChallenge.objects.latest_live(
            EmailChallenge.Purpose.EMAIL_CHANGE, email, member=member
        )
        right = challenge is not None and challenge.check_code(code)
        if right:
            old = _apply_email_change(request, member, challenge)
    if not right:
        tries = state["tries"] + 1
        request.session[EMAIL_CHANGE_SESSION_KEY] = {**state, "tries": tries}
        if tries >= EMAIL_CODE_MAX_ATTEMPTS:
            raise EmailCodeAttemptsUsedUp
        raise WrongEmailCode
    request.session.pop(EMAIL_CHANGE_SESSION_KEY, None)
    _tell_old_address(member, old)
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
    challenge.used_at = timezone.now()
    challenge.save(update_fields=["used_at"])
    _end_email_challenges(member)
    record_event(member, "email_changed", request=request, detail={"old": old, "new": new})
    return old


def _tell_old_address(member: Member, old: str) -> None:
    send_or_record(member, "email_changed", lambda: emails.send_email_changed(member, old))


# Contracts ----------------------------------------------------------------------------------

ADDED = "added"
REQUESTED = "requested"


def add_contract(request: HttpRequest, member: Member, values: dict) -> str:
    """Link one more contract, at once (activation "auto" and a full match) or after staff.

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
        if utility.activation == Utility.Activation.AUTO and identity_matches(utility, match):
            customer = Customer.objects.get(pk=match["customer_id"])
            ContractLink.objects.create(member=member, customer=customer)
            record_event(member, "contract_added", request=request, detail=detail)
            outcome = ADDED
        else:
            ContractRequest.objects.create(
                member=member,
                customer_id=match["customer_id"],
                customer_number=number,
                match=match,
                **typed,
            )
            record_event(member, "contract_requested", request=request, detail=detail)
            outcome = REQUESTED
    if outcome == ADDED:
        send_or_record(member, "contract_added", lambda: emails.send_contract_added(member, number))
    return outcome


def _check_reviewer(staff: Member, member: Member) -> None:
    if staff.is_superuser:
        return
    if not staff.is_staff or staff.utility_id is None or staff.utility_id != member.utility_id:
        raise ContractRequestNotAllowed


def approve_contract_request(contract_request: ContractRequest, staff: Member) -> bool:
    """Link the requested contract and mail the member. Returns whether the mail went out.

    Raises ContractRequestReviewed, ContractRequestNeedsContract or ContractRequestNotAllowed.
    """
    with transaction.atomic():
        locked = ContractRequest.objects.select_for_update().get(pk=contract_request.pk)
        member = locked.member
        _check_reviewer(staff, member)
        if locked.status != ContractRequest.Status.PENDING:
            raise ContractRequestReviewed
        customer = locked.customer
        if customer is None or customer.utility_id != member.utility_id:
            raise ContractRequestNeedsContract
        now = timezone.now()
        ContractLink.objects.update_or_create(
            member=member, customer=customer, defaults={"approved_by": staff, "approved_at": now}
        )
        locked.status = ContractRequest.Status.APPROVED
        locked.reviewed_by, locked.reviewed_at = staff, now
        locked.save(update_fields=["status", "reviewed_by", "reviewed_at"])
        record_event(
            member,
            "contract_request_approved",
            actor=staff,
            detail={"customer_number": customer.number},
        )
    return send_or_record(
        member, "contract_added", lambda: emails.send_contract_added(member, customer.number)
    )


def reject_contract_request(contract_request: ContractRequest, staff: Member) -> bool:
    """Refuse a request and mail the member. Returns whether the mail went out."""
    with transaction.atomic():
        locked = ContractRequest.objects.select_for_update().get(pk=contract_request.pk)
        member = locked.member
        _check_reviewer(staff, member)
        if locked.status != ContractRequest.Status.PENDING:
            raise ContractRequestReviewed
        locked.status = ContractRequest.Status.REJECTED
        locked.reviewed_by, locked.reviewed_at = staff, timezone.now()
        locked.save(update_fields=["status", "reviewed_by", "reviewed_at"])
        number = locked.customer_number
        record_event(
            member,
            "contract_request_rejected",
            actor=staff,
            detail={"customer_number": number},
        )
    return send_or_record(
        member,
        "contract_request_rejected",
        lambda: emails.send_contract_request_rejected(member, number),
    )


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
    now = timezone.now()
    with transaction.atomic():
        locked = Member.objects.select_for_update().get(pk=member.pk)
        locked.status = Member.Status.WITHDRAWN
        locked.withdrawn_at = now
        locked.save(update_fields=["status", "withdrawn_at"])
        locked.contract_requests.filter(status=ContractRequest.Status.PENDING).update(
            status=ContractRequest.Status.CANCELLED
        )
        locked.email_challenges.filter(used_at__isnull=True).update(used_at=now)
        record_event(locked, "withdrawn", request=request)
    logout(request)
    send_or_record(locked, "withdrawn", lambda: emails.send_withdrawn(locked))

"""Forgotten login ID or password (issue 5), in the order a resident meets it.

Utilities that ask a secret question (kanazawa):

1. ``find_member_for_recovery``: the registered address and the number of a linked contract.
2. ``answer_secret_question``: a right answer mails the login ID and a one-hour reset link;
   ``RECOVERY_MAX_FAILURES`` wrong answers in a row stop recovery for ``RECOVERY_LOCK`` and
   tell the member by mail. The count lives on the member row, so every worker shares it.

Utilities that log in by email (nayoro):

1. ``start_password_reset``: always the same answer; a member gets a link or a 6-digit code
   (``utility.verification``).
2. ``confirm_reset_code`` (code style) proves the address in this browser.

Both end in ``stash_reset_link`` (GET on the mailed link), ``reset_member`` (who is
resetting, nothing used up) and ``reset_password`` (the POST that uses the proof up).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from axes.utils import reset as axes_reset
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from portal import normalize
from portal.models import Utility

from .. import emails, ratelimit, tokens
from ..audit import log_event
from ..backends import member_lockout_key
from ..models import EmailChallenge, Member
from .profile import record_event
from .review import MAIL_ERRORS, send_or_record
from .signup import MailNotSent

logger = logging.getLogger(__name__)

RECOVERY_SESSION_KEY = "accounts.recovery"  # {"utility", "member", "started_at"}: details matched
RESET_EMAIL_SESSION_KEY = "accounts.reset_email"  # {"utility", "email", "tries"}: code sent
RESET_SESSION_KEY = (
    "accounts.reset"  # {"utility", "token"} or {"utility", "challenge", "proven_at"}
)
RECOVERY_SESSION_TTL = timedelta(minutes=30)  # from matching the details to answering
RESET_LINK_TTL = timedelta(hours=1)
RESET_PROVEN_TTL = timedelta(minutes=30)  # from a right code to the new password
RECOVERY_MAX_FAILURES = 5
RECOVERY_LOCK = timedelta(minutes=30)
CODE_MAX_ATTEMPTS = 5


class RecoveryError(Exception):
    """Base of everything the recovery steps refuse."""


class RecoveryNotMatched(RecoveryError):
    """No active member has that address and contract number (said neutrally on screen)."""


class RecoveryNotStarted(RecoveryError):
    """This session has not matched the details yet, or it is too old: start again."""


class RecoveryLocked(RecoveryError):
    """Too many wrong answers: recovery is stopped until ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"locked until {until.isoformat()}")
        self.until = until


class WrongSecretAnswer(RecoveryError):
    """The answer does not match; ``attempts_left`` more before the lockout."""

    def __init__(self, attempts_left: int) -> None:
        super().__init__(f"{attempts_left} attempts left")
        self.attempts_left = attempts_left


class ResetNotStarted(RecoveryError):
    """This session holds no reset link and no proven code."""


class ResetLinkInvalid(RecoveryError):
    """The reset link was not made by us, was cut, or its member can no longer log in."""


class ResetLinkExpired(RecoveryError):
    """The reset link (or the proven code) is past its time to live."""


class ResetLinkUsed(RecoveryError):
    """The reset link or code was already used to set a password."""


class WrongCode(RecoveryError):
    """The code is wrong or expired (one message for both: nothing to learn from it)."""


class CodeAttemptsUsedUp(RecoveryError):
    """Five wrong codes: this code is dead; ask for a new one."""


# Secret-question utilities ------------------------------------------------------------------


def find_member_for_recovery(
    request: HttpRequest, utility: Utility, email: str, customer_number: str
) -> Member:
    """Match the address and a linked contract's number to an active member, for this session.

    Raises RateLimited (per client address), RecoveryNotMatched or RecoveryLocked.
    """
    ratelimit.check_recovery_lookup(request)
    request.session.pop(RECOVERY_SESSION_KEY, None)
    member = (
        Member.objects.filter(
            utility=utility,
            is_staff=False,
            status=Member.Status.ACTIVE,
            email__iexact=email,
            contract_links__customer__number=normalize.digits(customer_number),
        )
        .exclude(secret_answer_hash="")
        .first()
    )
    if member is None:
        log_event("recovery_not_matched", request=request, utility=utility)
        raise RecoveryNotMatched
    _check_not_locked(member)
    request.session[RECOVERY_SESSION_KEY] = {
        "utility": utility.pk,
        "member": member.pk,
        "started_at": timezone.now().isoformat(),
    }
    return member


def _check_not_locked(member: Member) -> None:
    until = member.recovery_locked_until
    if until is not None and until > timezone.now():
        raise RecoveryLocked(until)


def recovery_member(request: HttpRequest, utility: Utility) -> Member:
    """Return the member whose secret question this session may answer.

    Raises RecoveryNotStarted or RecoveryLocked.
    """
    state = request.session.get(RECOVERY_SESSION_KEY)
    if not state or state.get("utility") != utility.pk:
        raise RecoveryNotStarted
    if timezone.now() - datetime.fromisoformat(state["started_at"]) > RECOVERY_SESSION_TTL:
        raise RecoveryNotStarted
    member = Member.objects.filter(
        pk=state["member"], utility=utility, status=Member.Status.ACTIVE
    ).first()
    if member is None:
        raise RecoveryNotStarted
    _check_not_locked(member)
    return member


def answer_secret_question(request: HttpRequest, utility: Utility, answer: str) -> None:
    """Check the answer; a right one mails the login ID and a reset link, nothing on screen.

    Raises RecoveryNotStarted, RecoveryLocked, WrongSecretAnswer or MailNotSent.
    """
    member_id = recovery_member(request, utility).pk
    now = timezone.now()
    with transaction.atomic():
        # The row lock makes simultaneous wrong answers count one after the other.
        member = Member.objects.select_for_update().get(pk=member_id)
        _check_not_locked(member)
        right = check_password(normalize.secret_answer(answer), member.secret_answer_hash)
        if right:
            member.recovery_failures = 0
            member.save(update_fields=["recovery_failures"])
            _issue_reset_link(request, member, raise_on_failure=True)
        else:
            member.recovery_failures += 1
            if member.recovery_failures >= RECOVERY_MAX_FAILURES:
                member.recovery_failures = 0
                member.recovery_locked_until = now + RECOVERY_LOCK
                record_event(member, "recovery_locked", request=request)
            member.save(update_fields=["recovery_failures", "recovery_locked_until"])
    if right:
        request.session.pop(RECOVERY_SESSION_KEY, None)
        return
    if member.recovery_locked_until and member.recovery_locked_until > now:
        request.session.pop(RECOVERY_SESSION_KEY, None)
        until = member.recovery_locked_until
        send_or_record(
            member, "recovery_locked", lambda: emails.send_recovery_locked(member, until)
        )
        raise RecoveryLocked(until)
    log_event("recovery_wrong_answer", request=request, member=member)
    raise WrongSecretAnswer(RECOVERY_MAX_FAILURES - member.recovery_failures)


# Email-login utilities ----------------------------------------------------------------------


def start_password_reset(request: HttpRequest, utility: Utility, email: str) -> None:
    """Send a reset link or code to ``email`` if an active member has it; say nothing either way.

    Raises RateLimited (per address and per client address).
    """
    ratelimit.check_reset_mail(request, utility.slug, email)
    request.session.pop(RESET_SESSION_KEY, None)
    if utility.verification == Utility.Verification.CODE:
        request.session[RESET_EMAIL_SESSION_KEY] = {
            "utility": utility.pk,
            "email": email,
            "tries": 0,
        }
    member = Member.objects.filter(
        utility=utility, is_staff=False, status=Member.Status.ACTIVE, email__iexact=email
    ).first()
    if member is None:
        log_event("reset_unknown_address", request=request, utility=utility)
        return
    if utility.verification == Utility.Verification.CODE:
        _issue_reset_code(request, member)
    else:
        _issue_reset_link(request, member, raise_on_failure=False)


def _end_reset_challenges(member: Member) -> None:
    EmailChallenge.objects.filter(
        member=member, purpose=EmailChallenge.Purpose.PASSWORD_RESET, used_at__isnull=True
    ).update(used_at=timezone.now())


def _issue_reset_link(request: HttpRequest, member: Member, raise_on_failure: bool) -> None:
    nonce = tokens.new_nonce()
    with transaction.atomic():
        _end_reset_challenges(member)  # one live reset at a time
        challenge = EmailChallenge.objects.create(
            utility=member.utility,
            member=member,
            purpose=EmailChallenge.Purpose.PASSWORD_RESET,
            email=member.email,
            secret_hash=tokens.hash_nonce(nonce),
            expires_at=timezone.now() + RESET_LINK_TTL,
            attempts_left=1,
        )
        record_event(member, "recovery_mail_sent", request=request, detail={"by": "link"})
        token = tokens.make_link_token(challenge.pk, nonce, salt=tokens.RESET_LINK_SALT)
        url = request.build_absolute_uri(
            reverse("accounts:recovery_link", args=[member.utility.slug, token])
        )

        def send() -> None:
            emails.send_password_reset_link(member, url, challenge.expires_at)

        if not raise_on_failure:
            send_or_record(member, "password_reset_link", send)
            return
        try:
            send()
        except MAIL_ERRORS as exc:
            logger.warning("reset mail could not be sent: %s", exc)
            raise MailNotSent from exc


def _issue_reset_code(request: HttpRequest, member: Member) -> None:
    code = tokens.make_code()
    with transaction.atomic():
        _end_reset_challenges(member)
        challenge = EmailChallenge.objects.create(
            utility=member.utility,
            member=member,
            purpose=EmailChallenge.Purpose.PASSWORD_RESET,
            email=member.email,
            secret_hash=make_password(code),
            expires_at=timezone.now() + timedelta(minutes=member.utility.code_ttl_minutes),
            attempts_left=CODE_MAX_ATTEMPTS,
        )
        record_event(member, "recovery_mail_sent", request=request, detail={"by": "code"})
    send_or_record(
        member,
        "password_reset_code",
        lambda: emails.send_password_reset_code(member, code, challenge.expires_at),
    )


def reset_code_email(request: HttpRequest, utility: Utility) -> str:
    """Return the address this session asked a code for; raise ResetNotStarted if none."""
    state = request.session.get(RESET_EMAIL_SESSION_KEY)
    if not state or state.get("utility") != utility.pk:
        raise ResetNotStarted
    return state["email"]


def confirm_reset_code(request: HttpRequest, utility: Utility, code: str) -> None:
    """Check a code typed on the code page; a right one lets this browser set a password.

    Raises RateLimited, ResetNotStarted, WrongCode or CodeAttemptsUsedUp. Tries are counted
    in the session as well, so an unknown address runs out exactly like a known one.
    """
    ratelimit.check_recovery_code(request)
    email = reset_code_email(request, utility)
    state = request.session[RESET_EMAIL_SESSION_KEY]
    if state["tries"] >= CODE_MAX_ATTEMPTS:
        raise CodeAttemptsUsedUp
    with transaction.atomic():
        challenge = EmailChallenge.objects.latest_live(
            EmailChallenge.Purpose.PASSWORD_RESET, email, utility=utility
        )
        right = challenge is not None and challenge.check_code(code)
    if not right:
        tries = state["tries"] + 1
        request.session[RESET_EMAIL_SESSION_KEY] = {**state, "tries": tries}
        if tries >= CODE_MAX_ATTEMPTS:
            raise CodeAttemptsUsedUp
        raise WrongCode
    request.session.cycle_key()
    request.session.pop(RESET_EMAIL_SESSION_KEY, None)
    request.session[RESET_SESSION_KEY] = {
        "utility": utility.pk,
        "challenge": challenge.pk,
        "proven_at": timezone.now().isoformat(),
    }


# The new password -----------------------------------------------------------------------------


def stash_reset_link(request: HttpRequest, utility: Utility, token: str) -> None:
    """Keep a reset-link token in the session only; the password form's POST uses it up.

    Mail scanners that open every link use nothing, and the token never appears in the
    address of a page (nor in a Referer header).
    """
    request.session.pop(RESET_EMAIL_SESSION_KEY, None)
    request.session[RESET_SESSION_KEY] = {"utility": utility.pk, "token": token}


def _reset_challenge(
    request: HttpRequest, utility: Utility, for_update: bool = False
) -> EmailChallenge:
    state = request.session.get(RESET_SESSION_KEY)
    if not state or state.get("utility") != utility.pk:
        raise ResetNotStarted
    challenges = EmailChallenge.objects.filter(
        utility=utility, purpose=EmailChallenge.Purpose.PASSWORD_RESET
    )
    if for_update:
        challenges = challenges.select_for_update()
    now = timezone.now()
    if "token" in state:
        try:
            challenge_id, nonce = tokens.read_link_token(
                state["token"], max_age=RESET_LINK_TTL, salt=tokens.RESET_LINK_SALT
            )
        except tokens.TokenExpired as exc:
            raise ResetLinkExpired from exc
        except tokens.TokenInvalid as exc:
            raise ResetLinkInvalid from exc
        challenge = challenges.filter(pk=challenge_id).first()
        if challenge is None or not tokens.nonce_matches(nonce, challenge.secret_hash):
            raise ResetLinkInvalid
        expired = challenge.expires_at <= now
    else:
        challenge = challenges.filter(pk=state["challenge"]).first()
        if challenge is None:
            raise ResetNotStarted
        expired = now - datetime.fromisoformat(state["proven_at"]) > RESET_PROVEN_TTL
    if challenge.used_at is not None:
        raise ResetLinkUsed
    if expired:
        raise ResetLinkExpired
    return challenge


def reset_member(request: HttpRequest, utility: Utility) -> Member:
    """Return the member this session may set a password for, using nothing up.

    Raises ResetNotStarted, ResetLinkInvalid, ResetLinkExpired or ResetLinkUsed.
    """
    challenge = _reset_challenge(request, utility)
    member = Member.objects.filter(
        pk=challenge.member_id, utility=utility, status=Member.Status.ACTIVE
    ).first()
    if member is None:
        raise ResetLinkInvalid
    return member


def reset_password(request: HttpRequest, utility: Utility, password: str) -> Member:
    """Use the link or proven code up, set the new password and mail a notice.

    Every other session of the member ends: Django checks a hash of the password on each
    request. Raises what ``reset_member`` raises.
    """
    with transaction.atomic():
        challenge = _reset_challenge(request, utility, for_update=True)
        member = (
            Member.objects.select_for_update()
            .filter(pk=challenge.member_id, utility=utility, status=Member.Status.ACTIVE)
            .first()
        )
        if member is None:
            raise ResetLinkInvalid
        member.set_password(password)
        member.recovery_failures = 0
        member.recovery_locked_until = None
        member.save(update_fields=["password", "recovery_failures", "recovery_locked_until"])
        _end_reset_challenges(member)
        record_event(member, "password_reset", request=request)
    request.session.pop(RESET_SESSION_KEY, None)
    # A login lockout from the guesses that led here would keep the new password out.
    axes_reset(username=member_lockout_key(member))
    send_or_record(member, "password_changed", lambda: emails.send_password_changed(member))
    return member

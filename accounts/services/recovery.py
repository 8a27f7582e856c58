"""Forgotten login ID or password, in the order a resident meets it.

Utilities that ask a secret question (kanazawa):

1. ``find_member_for_recovery``: the registered address and the number of a linked contract.
2. ``answer_secret_question``: a right answer mails the login ID and a one-hour reset link;
   ``RECOVERY_MAX_FAILURES`` wrong answers in a row stop recovery for ``RECOVERY_LOCK`` and
   tell the member by mail. The count lives on the member row, so every worker shares it.

Utilities that log in by email (nayoro):

1. ``start_password_reset``: always the same answer; a member gets a link or a 6-digit code
   (``utility.verification``), an unknown address a code no one can pass.
2. ``confirm_reset_code`` (code style) proves the address in this browser.

Both end in ``stash_reset_link`` (GET on the mailed link), ``reset_member`` (who is
resetting, nothing used up) and ``reset_password`` (the POST that uses the proof up).
Links and codes are ``accounts.challenges``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from axes.utils import reset as axes_reset
from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from portal import normalize
from portal.models import Utility

from .. import challenges, emails, ratelimit
from ..audit import log_event
from ..backends import member_lockout_key
from ..models import EmailChallenge, Member
from .base import NotStarted, record_event

RESET = EmailChallenge.Purpose.PASSWORD_RESET
RECOVERY_SESSION_KEY = "accounts.recovery"  # {"utility", "member", "started_at"}: details matched
RESET_EMAIL_SESSION_KEY = "accounts.reset_email"  # {"utility", "email", "challenge"}: code sent
RESET_SESSION_KEY = (
    "accounts.reset"  # {"utility", "token"} or {"utility", "challenge", "proven_at"}
)
RECOVERY_SESSION_TTL = timedelta(minutes=30)  # from matching the details to answering
RESET_PROVEN_TTL = timedelta(minutes=30)  # from a right code to the new password
RECOVERY_MAX_FAILURES = 5
RECOVERY_LOCK = timedelta(minutes=30)


class RecoveryNotMatched(Exception):
    """No active member has that address and contract number (said neutrally on screen)."""


class RecoveryLocked(Exception):
    """Too many wrong answers: recovery is stopped until ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"locked until {until.isoformat()}")
        self.until = until


class WrongSecretAnswer(Exception):
    """The answer does not match; ``attempts_left`` more before the lockout."""

    def __init__(self, attempts_left: int) -> None:
        super().__init__(f"{attempts_left} attempts left")
        self.attempts_left = attempts_left


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
            contract_links__customer__utility=utility,
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

    Raises NotStarted or RecoveryLocked.
    """
    state = request.session.get(RECOVERY_SESSION_KEY)
    if not state or state.get("utility") != utility.pk:
        raise NotStarted
    if timezone.now() - datetime.fromisoformat(state["started_at"]) > RECOVERY_SESSION_TTL:
        raise NotStarted
    member = Member.objects.filter(
        pk=state["member"], utility=utility, status=Member.Status.ACTIVE
    ).first()
    if member is None:
        raise NotStarted
    _check_not_locked(member)
    return member


def answer_secret_question(request: HttpRequest, utility: Utility, answer: str) -> None:
    """Check the answer; a right one mails the login ID and a reset link, nothing on screen.

    Raises NotStarted, RecoveryLocked, WrongSecretAnswer.
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
            url, challenge = _issue_reset_link(request, member)
            emails.send_password_reset_link(member, url, challenge)
        else:
            member.recovery_failures += 1
            if member.recovery_failures >= RECOVERY_MAX_FAILURES:
                member.recovery_failures = 0
                member.recovery_locked_until = now + RECOVERY_LOCK
                # Caused by whoever typed the answers, not known to be the member.
                record_event(member, "recovery_locked", by_portal=True, request=request)
                emails.send_recovery_locked(member, member.recovery_locked_until)
            member.save(update_fields=["recovery_failures", "recovery_locked_until"])
    if right:
        request.session.pop(RECOVERY_SESSION_KEY, None)
        return
    if member.recovery_locked_until and member.recovery_locked_until > now:
        request.session.pop(RECOVERY_SESSION_KEY, None)
        raise RecoveryLocked(member.recovery_locked_until)
    log_event("recovery_wrong_answer", request=request, member=member)
    raise WrongSecretAnswer(RECOVERY_MAX_FAILURES - member.recovery_failures)


# Email-login utilities ----------------------------------------------------------------------


def start_password_reset(request: HttpRequest, utility: Utility, email: str) -> None:
    """Send a reset link or code to ``email`` if an active member has it; say nothing either way.

    Raises RateLimited (per address and per client address).
    """
    ratelimit.check_reset_mail(request, utility.slug, email)
    request.session.pop(RESET_SESSION_KEY, None)
    request.session.pop(RESET_EMAIL_SESSION_KEY, None)
    member = Member.objects.filter(
        utility=utility, is_staff=False, status=Member.Status.ACTIVE, email__iexact=email
    ).first()
    if member is None:
        log_event("reset_unknown_address", request=request, utility=utility)
    if utility.verification == Utility.Verification.CODE:
        _issue_reset_code(request, utility, email, member)
    elif member is not None:
        with transaction.atomic():
            url, challenge = _issue_reset_link(request, member)
            emails.send_password_reset_link(member, url, challenge)


def _issue_reset_link(request: HttpRequest, member: Member) -> tuple[str, EmailChallenge]:
    challenges.retire(member=member, purpose=RESET)  # one live reset at a time
    challenge, token = challenges.issue_link(member.utility, RESET, member.email, member=member)
    record_event(
        member, "recovery_mail_sent", by_portal=True, request=request, detail={"by": "link"}
    )
    url = request.build_absolute_uri(
        reverse("accounts:recovery_link", args=[member.utility.slug, token])
    )
    return url, challenge


def _issue_reset_code(
    request: HttpRequest, utility: Utility, email: str, member: Member | None
) -> None:
    """Mail a member a code; an unknown address gets a row no code passes, and no mail.

    Both branches do the same work (issue 18: the time a form takes must not tell whether
    an address is registered): the unknown one retires the address's earlier rows as the
    known one retires the member's, and renders and writes its mail in a savepoint it rolls
    back (``rehearse_password_reset_code``), in place of the member's event and mail.
    """
    with transaction.atomic():
        if member is not None:
            challenges.retire(member=member, purpose=RESET)
        else:
            challenges.retire(utility=utility, purpose=RESET, email=email, member=None)
        challenge, code = challenges.issue_code(
            utility, RESET, email, member=member, answerable=member is not None
        )
        if member is not None:
            record_event(
                member, "recovery_mail_sent", by_portal=True, request=request, detail={"by": "code"}
            )
            emails.send_password_reset_code(member, code, challenge)
        else:
            emails.rehearse_password_reset_code(utility, email, code, challenge)
    request.session[RESET_EMAIL_SESSION_KEY] = {
        "utility": utility.pk,
        "email": email,
        "challenge": challenge.pk,
    }


def reset_code_email(request: HttpRequest, utility: Utility) -> str:
    """Return the address this session asked a code for; raise NotStarted if none."""
    state = request.session.get(RESET_EMAIL_SESSION_KEY)
    if not state or state.get("utility") != utility.pk:
        raise NotStarted
    return state["email"]


def confirm_reset_code(request: HttpRequest, utility: Utility, code: str) -> None:
    """Check a code typed on the code page; a right one lets this browser set a password.

    Raises RateLimited, NotStarted or a challenges.ChallengeError (CodeWrong, CodeDead,
    ChallengeExpired).
    """
    ratelimit.check_recovery_code(request)
    reset_code_email(request, utility)
    state = request.session[RESET_EMAIL_SESSION_KEY]
    challenge = challenges.check_code(utility, RESET, state["challenge"], code)
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
        raise NotStarted
    if "token" in state:
        return challenges.open_link(utility, RESET, state["token"], for_update=for_update)
    rows = EmailChallenge.objects.filter(pk=state["challenge"], utility=utility, purpose=RESET)
    challenge = (rows.select_for_update() if for_update else rows).first()
    if challenge is None:
        raise NotStarted
    if challenge.used_at is not None:
        raise challenges.ChallengeUsed
    if timezone.now() - datetime.fromisoformat(state["proven_at"]) > RESET_PROVEN_TTL:
        raise challenges.ChallengeExpired
    return challenge


def _resetting_member(challenge: EmailChallenge, utility: Utility, for_update: bool) -> Member:
    members = Member.objects.filter(
        pk=challenge.member_id, utility=utility, status=Member.Status.ACTIVE
    )
    member = (members.select_for_update() if for_update else members).first()
    if member is None:
        raise challenges.ChallengeInvalid
    return member


def reset_member(request: HttpRequest, utility: Utility) -> Member:
    """Return the member this session may set a password for, using nothing up.

    Raises NotStarted or a challenges.ChallengeError.
    """
    return _resetting_member(_reset_challenge(request, utility), utility, for_update=False)


def reset_password(request: HttpRequest, utility: Utility, password: str) -> Member:
    """Use the link or proven code up, set the new password and mail a notice.

    Every other link and code of the member dies, and so does every other session (Django
    checks a hash of the password on each request). Raises what ``reset_member`` raises.
    """
    with transaction.atomic():
        challenge = _reset_challenge(request, utility, for_update=True)
        member = _resetting_member(challenge, utility, for_update=True)
        member.set_password(password)
        member.recovery_failures = 0
        member.recovery_locked_until = None
        member.save(update_fields=["password", "recovery_failures", "recovery_locked_until"])
        challenges.retire_member(member)
        record_event(member, "password_reset", request=request)
        emails.send_password_changed(member)
    request.session.pop(RESET_SESSION_KEY, None)
    # A login lockout from the guesses that led here would keep the new password out.
    axes_reset(username=member_lockout_key(member))
    return member

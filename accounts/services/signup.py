"""Signup (shared by the link and code styles), contract matching and staff review.

The signup pipeline, in the order a resident meets it:

1. ``start_signup`` (seed 000 ③, seed 003 ②) sends the mail that proves the address. It
   dispatches on ``utility.verification``: a one-time link, or a 6-digit code.
2. Proving the address ends in ``mark_email_verified``: ``confirm_signup_link`` calls it
   for a link, ``confirm_signup_code`` (seed 003 ④) for a code.
3. ``save_signup_details`` (⑥ / ⑤) keeps the answers in the session, secrets hashed.
4. ``complete_signup`` (本会員申請 / 登録) matches the contract, creates the member and mails.
   The code style refuses a contract that does not match (seed 003 ⑦) and lets the
   resident correct it. Activation "auto" with a full match activates at once; otherwise
   staff review with ``choose_contract``, ``approve_member`` and ``reject_member``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from billing.models import Customer
from portal import normalize
from portal.models import Utility

from .. import emails, ratelimit, tokens
from ..audit import log_event
from ..models import EmailChallenge, Member, MemberEvent
from .matching import identity_matches, match_contract, match_summary
from .review import MAIL_ERRORS, activate_member, send_or_record

logger = logging.getLogger(__name__)

SIGNUP_SESSION_KEY = "accounts.signup"  # the proven address: {"utility", "email", "verified_at"}
SIGNUP_LINK_SESSION_KEY = "accounts.signup_link"  # a link token not yet used up
SIGNUP_DETAILS_SESSION_KEY = "accounts.signup_details"  # ⑥ answers, secrets hashed
SIGNUP_DONE_SESSION_KEY = "accounts.signup_done"
SIGNUP_CODE_SESSION_KEY = (
    "accounts.signup_code"  # the code mailed: {"utility", "email", "challenge"}
)
SIGNUP_SESSION_TTL = timedelta(hours=2)  # from proving the address to 本会員申請
CODE_ATTEMPTS = 5  # wrong codes before a code is dead (STYLE.md 8)
MATCH_ATTEMPTS = 5  # refused 「登録」 before the resident must prove the address again

# Values of the details step that are copied to the member as typed (after normalising).
MEMBER_DETAIL_FIELDS = [
    "login_id",
    "name",
    "name_kana",
    "phone",
    "address",
    "building",
    "secret_question",
    "tax_declaration",
    "referral",
    "relation",
    "payment_method",
]


class SignupError(Exception):
    """Base of everything the signup steps refuse."""


class MailNotSent(SignupError):
    """The mail server refused the mail or could not be reached; nothing was saved."""


class SignupNotStarted(SignupError):
    """This session holds no proven address (or it is too old): start again at ③."""


class LinkInvalid(SignupError):
    """The signup URL was not made by us, or was cut or altered."""


class LinkExpired(SignupError):
    """The signup URL is genuine but past the utility's time to live."""


class LinkUsed(SignupError):
    """The signup URL was already used."""


class LoginIdTaken(SignupError):
    """Someone else registered the login ID first."""


class EmailTaken(SignupError):
    """The address became a member's while this signup was in progress."""


class CodeRefused(SignupError):
    """The code typed at seed 003 ④ does not prove the address; ``reason`` says why."""

    reason = ""

    def __init__(self, attempts_left: int = 0) -> None:
        super().__init__(self.reason)
        self.attempts_left = attempts_left


class CodeWrong(CodeRefused):
    reason = "wrong"


class CodeExpired(CodeRefused):
    reason = "expired"


class CodeDead(CodeRefused):
    """Five wrong tries, or a newer code was sent: only a new code helps."""

    reason = "dead"


class ContractNotMatched(SignupError):
    """The typed values do not match a contract (seed 003 ⑦); ``problems`` name them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(", ".join(problems))
        self.problems = problems


class TooManyMismatches(SignupError):
    """Too many refused 「登録」 for one proven address: start again from the address."""


# ③ Start: send the proof mail ------------------------------------------------------------


def start_signup(request: HttpRequest, utility: Utility, email: str) -> None:
    """Send the mail that proves ``email``, or an "already registered" mail to a member.

    The resident sees the same page either way (no enumeration). Raises RateLimited or
    MailNotSent.
    """
    if utility.verification == Utility.Verification.CODE:
        # Checked before the hourly limits, so an early 「メールが届かない場合はこちら」
        # costs nothing. Raises CooldownActive (a RateLimited).
        ratelimit.start_code_cooldown(utility.slug, email)
    ratelimit.check_signup_mail(request, utility.slug, email)
    request.session.pop(SIGNUP_LINK_SESSION_KEY, None)
    is_member = Member.objects.holders(utility).filter(email__iexact=email)
    SIGNUP_ISSUERS[utility.verification](request, utility, email, is_member.exists())


def _send_existing(request: HttpRequest, utility: Utility, email: str) -> None:
    login_url = request.build_absolute_uri(reverse("accounts:login", args=[utility.slug]))
    recovery_url = request.build_absolute_uri(reverse("accounts:recovery", args=[utility.slug]))
    emails.send_signup_existing(utility, email, login_url, recovery_url)


def _send_or_raise(send: Callable[[], None]) -> None:
    try:
        send()
    except MAIL_ERRORS as exc:
        logger.warning("signup mail could not be sent: %s", exc)
        raise MailNotSent from exc


def _issue_signup_link(request: HttpRequest, utility: Utility, email: str, is_member: bool) -> None:
    if is_member:
        _send_or_raise(lambda: _send_existing(request, utility, email))
        return
    nonce = tokens.new_nonce()
    # The challenge and the mail succeed or fail together: a refused mail leaves no row.
    with transaction.atomic():
        challenge = EmailChallenge.objects.create(
            utility=utility,
            purpose=EmailChallenge.Purpose.SIGNUP,
            email=email,
            secret_hash=tokens.hash_nonce(nonce),
            expires_at=timezone.now() + timedelta(hours=utility.signup_link_ttl_hours),
            attempts_left=1,
        )
        token = tokens.make_link_token(challenge.pk, nonce)
        path = reverse("accounts:signup_link", args=[utility.slug, token])
        url = request.build_absolute_uri(path)
        _send_or_raise(lambda: emails.send_signup_link(utility, email, url, challenge.expires_at))


def _signup_challenges(utility: Utility, email: str):
    return EmailChallenge.objects.filter(
        utility=utility, purpose=EmailChallenge.Purpose.SIGNUP, email__iexact=email
    )


def _issue_signup_code(request: HttpRequest, utility: Utility, email: str, is_member: bool) -> None:
    code = tokens.make_code()
    with transaction.atomic():
        # Only the newest code works: asking again (seed 003 ④) kills the ones before it.
        _signup_challenges(utility, email).filter(used_at__isnull=True).update(attempts_left=0)
        challenge = EmailChallenge.objects.create(
            utility=utility,
            purpose=EmailChallenge.Purpose.SIGNUP,
            email=email,
            # A member's address gets a challenge that no code passes, so the code step
            # counts, expires and dies the same way whether or not the address is
            # registered (no enumeration); the member gets the login links instead.
            secret_hash=make_password(None if is_member else code),
            expires_at=timezone.now() + timedelta(minutes=utility.code_ttl_minutes),
            attempts_left=CODE_ATTEMPTS,
        )
        if is_member:
            _send_or_raise(lambda: _send_existing(request, utility, email))
        else:
            _send_or_raise(
                lambda: emails.send_signup_code(utility, email, code, challenge.expires_at)
            )
    request.session[SIGNUP_CODE_SESSION_KEY] = {
        "utility": utility.pk,
        "email": email,
        "challenge": challenge.pk,
    }
    log_event("signup_code_sent", request=request, utility=utility)


# How each verification style sends its proof.
SIGNUP_ISSUERS: dict[str, Callable[[HttpRequest, Utility, str, bool], None]] = {
    Utility.Verification.LINK: _issue_signup_link,
    Utility.Verification.CODE: _issue_signup_code,
}


# ④ Prove the address with the code (seed 003) -------------------------------------------


def code_signup_email(request: HttpRequest, utility: Utility) -> str:
    """Return the address this session was mailed a code for; raise SignupNotStarted."""
    pending = request.session.get(SIGNUP_CODE_SESSION_KEY)
    if not pending or pending.get("utility") != utility.pk:
        raise SignupNotStarted
    return pending["email"]


def resend_signup_code(request: HttpRequest, utility: Utility) -> None:
    """Mail a new code to the address of this session (「メールが届かない場合はこちら」)."""
    start_signup(request, utility, code_signup_email(request, utility))


def confirm_signup_code(request: HttpRequest, utility: Utility, code: str) -> str:
    """Check a typed code against the one mailed; if right, mark its address as proven.

    Raises SignupNotStarted, RateLimited, CodeWrong, CodeExpired or CodeDead.
    """
    email = code_signup_email(request, utility)
    ratelimit.check_signup_code(request, utility.slug, email)
    challenge_id = request.session[SIGNUP_CODE_SESSION_KEY]["challenge"]
    with transaction.atomic():
        # The row lock makes two guesses sent at once count as two.
        challenge = (
            _signup_challenges(utility, email).select_for_update().filter(pk=challenge_id).first()
        )
        refusal = _code_refusal(challenge, code)
        if refusal is None:
            challenge.used_at = timezone.now()
            challenge.save(update_fields=["used_at"])
    if refusal is not None:
        log_event("signup_code_refused", request=request, reason=refusal.reason)
        raise refusal
    request.session.pop(SIGNUP_CODE_SESSION_KEY, None)
    mark_email_verified(request, utility, challenge.email)
    log_event("signup_code_verified", request=request)
    return challenge.email


def _code_refusal(challenge: EmailChallenge | None, code: str) -> CodeRefused | None:
    """Return why the code fails (a wrong try is counted on the row), or None if right."""
    if challenge is None or challenge.used_at is not None or challenge.attempts_left == 0:
        return CodeDead()
    if challenge.expires_at <= timezone.now():
        return CodeExpired()
    if check_password(code, challenge.secret_hash):
        return None
    challenge.attempts_left -= 1
    challenge.save(update_fields=["attempts_left"])
    if challenge.attempts_left == 0:
        return CodeDead()
    return CodeWrong(challenge.attempts_left)


# ⑤ Prove the address ---------------------------------------------------------------------


def mark_email_verified(request: HttpRequest, utility: Utility, email: str) -> None:
    """Remember that this browser proved it reads ``email``; every style ends here."""
    request.session.cycle_key()
    request.session[SIGNUP_SESSION_KEY] = {
        "utility": utility.pk,
        "email": email,
        "verified_at": timezone.now().isoformat(),
    }
    request.session.pop(SIGNUP_LINK_SESSION_KEY, None)


def verified_email(request: HttpRequest, utility: Utility) -> str | None:
    """Return the address this session proved for ``utility`` recently, or None."""
    state = request.session.get(SIGNUP_SESSION_KEY)
    if not state or state.get("utility") != utility.pk:
        return None
    if timezone.now() - datetime.fromisoformat(state["verified_at"]) > SIGNUP_SESSION_TTL:
        return None
    return state["email"]


def stash_signup_link(request: HttpRequest, utility: Utility, token: str) -> None:
    """Keep a link token in the session only; it is used up by the details form's POST.

    Mail scanners that open every link therefore use nothing, and the token never
    appears in a page's address (nor in a Referer header).
    """
    request.session[SIGNUP_LINK_SESSION_KEY] = {"utility": utility.pk, "token": token}


def _stashed_token(request: HttpRequest, utility: Utility) -> str | None:
    stash = request.session.get(SIGNUP_LINK_SESSION_KEY)
    if not stash or stash.get("utility") != utility.pk:
        return None
    return stash["token"]


def _open_link(utility: Utility, token: str, for_update: bool = False) -> EmailChallenge:
    """Return the challenge behind a link (maybe already used); raise if bad or expired."""
    ttl = timedelta(hours=utility.signup_link_ttl_hours)
    try:
        challenge_id, nonce = tokens.read_link_token(token, max_age=ttl)
    except tokens.TokenExpired as exc:
        raise LinkExpired from exc
    except tokens.TokenInvalid as exc:
        raise LinkInvalid from exc
    challenges = EmailChallenge.objects.filter(
        pk=challenge_id, utility=utility, purpose=EmailChallenge.Purpose.SIGNUP
    )
    if for_update:
        challenges = challenges.select_for_update()
    challenge = challenges.first()
    if challenge is None or not tokens.nonce_matches(nonce, challenge.secret_hash):
        raise LinkInvalid
    if challenge.used_at is None and challenge.expires_at <= timezone.now():
        raise LinkExpired
    return challenge


def _same_address(a: str | None, b: str) -> bool:
    return a is not None and a.casefold() == b.casefold()


def signup_email(request: HttpRequest, utility: Utility) -> str:
    """Return the address this session is signing up, without using anything up.

    Raises SignupNotStarted, LinkInvalid, LinkExpired or LinkUsed.
    """
    token = _stashed_token(request, utility)
    verified = verified_email(request, utility)
    if token is None:
        if verified is None:
            raise SignupNotStarted
        return verified
    challenge = _open_link(utility, token)
    if challenge.used_at is None:
        return challenge.email
    if _same_address(verified, challenge.email):
        return challenge.email  # the resident opened the mail again mid-signup
    raise LinkUsed


def confirm_signup_link(request: HttpRequest, utility: Utility) -> str:
    """Use up the stashed signup link (once only) and mark its address as proven."""
    token = _stashed_token(request, utility)
    if token is None:
        raise SignupNotStarted
    with transaction.atomic():
        challenge = _open_link(utility, token, for_update=True)
        if challenge.used_at is not None:
            if not _same_address(verified_email(request, utility), challenge.email):
                raise LinkUsed
        else:
            # Other links sent to the same address die too: one address, one signup.
            EmailChallenge.objects.filter(
                utility=utility,
                purpose=EmailChallenge.Purpose.SIGNUP,
                email__iexact=challenge.email,
                used_at__isnull=True,
            ).update(used_at=timezone.now())
    mark_email_verified(request, utility, challenge.email)
    return challenge.email


def verify_signup_email(request: HttpRequest, utility: Utility) -> str:
    """Return the proven address, using up a stashed signup link first if there is one."""
    if _stashed_token(request, utility) is not None:
        return confirm_signup_link(request, utility)
    email = verified_email(request, utility)
    if email is None:
        raise SignupNotStarted
    return email


# ⑥ ⑦ Details and 本会員申請 --------------------------------------------------------------


def count_signup_attempt(request: HttpRequest) -> None:
    """Count one submission of a signup form; raise RateLimited when there are too many."""
    ratelimit.check_signup_attempt(request)


def save_signup_details(request: HttpRequest, utility: Utility, details: dict) -> None:
    """Keep the details-step answers for 本会員申請, password and secret answer hashed."""
    data = {k: v for k, v in details.items() if k not in ("password", "password_confirm")}
    data["password_hash"] = make_password(details["password"])
    answer = data.pop("secret_answer", "")
    data["secret_answer_hash"] = make_password(normalize.secret_answer(answer)) if answer else ""
    request.session[SIGNUP_DETAILS_SESSION_KEY] = {"utility": utility.pk, "values": data}


def saved_signup_details(request: HttpRequest, utility: Utility) -> dict:
    """Return the kept answers without their hashes (to refill the details form)."""
    stored = request.session.get(SIGNUP_DETAILS_SESSION_KEY)
    if not stored or stored.get("utility") != utility.pk:
        return {}
    return {k: v for k, v in stored["values"].items() if not k.endswith("_hash")}


def complete_signup(request: HttpRequest, utility: Utility) -> Member:
    """Create the member from the proven address and the kept details (本会員申請).

    Raises RateLimited, SignupNotStarted, LoginIdTaken or EmailTaken. The completion
    mail is sent after the member is saved; if it fails, the member stays and the
    failure is recorded for staff.
    """
    ratelimit.check_signup_attempt(request)
    email = verified_email(request, utility)
    stored = request.session.get(SIGNUP_DETAILS_SESSION_KEY)
    if email is None or not stored or stored.get("utility") != utility.pk:
        raise SignupNotStarted
    details = stored["values"]
    match = match_contract(
        utility,
        number=details.get("customer_number", ""),
        name=details.get("name", ""),
        phone=details.get("phone", ""),
        address=details.get("address", ""),
        name_kana=details.get("name_kana", ""),
    )
    if utility.verification == Utility.Verification.CODE and not identity_matches(utility, match):
        _refuse_mismatch(request, utility, match)
    member, created = _create_member(utility, email, details, match)
    _end_signup(request)
    request.session[SIGNUP_DONE_SESSION_KEY] = {"utility": utility.pk, "status": member.status}
    if created:
        log_event("signup_completed", request=request, member=member, status=member.status)
        send_or_record(member, "signup_complete", lambda: emails.send_signup_complete(member))
    return member


def _end_signup(request: HttpRequest) -> None:
    for key in (
        SIGNUP_SESSION_KEY,
        SIGNUP_LINK_SESSION_KEY,
        SIGNUP_DETAILS_SESSION_KEY,
        SIGNUP_CODE_SESSION_KEY,
    ):
        request.session.pop(key, None)


def mismatch_problems(utility: Utility, match: dict) -> list[str]:
    """Name what failed to match: "number" alone if no contract has it, else the others."""
    if match.get("customer_id") is None:
        return ["number"]
    name_key = "name_kana" if utility.asks_kana else "name"
    return [key for key in ("number", "phone", name_key) if not match.get(key)]


def _refuse_mismatch(request: HttpRequest, utility: Utility, match: dict) -> None:
    """Seed 003 ⑦: nothing is saved; after MATCH_ATTEMPTS the proven address is dropped."""
    state = request.session[SIGNUP_SESSION_KEY]
    state["mismatches"] = state.get("mismatches", 0) + 1
    request.session.modified = True
    problems = mismatch_problems(utility, match)
    log_event("signup_match_refused", request=request, problems=",".join(problems))
    if state["mismatches"] >= MATCH_ATTEMPTS:
        _end_signup(request)
        raise TooManyMismatches
    raise ContractNotMatched(problems)


def _create_member(utility: Utility, email: str, details: dict, match: dict) -> tuple[Member, bool]:
    member = Member(
        utility=utility,
        email=email,
        password=details["password_hash"],
        secret_answer_hash=details.get("secret_answer_hash", ""),
        signup_customer_number=normalize.digits(details.get("customer_number", "")),
        signup_match=match,
        status=Member.Status.PENDING,
        **{field: details.get(field, "") for field in MEMBER_DETAIL_FIELDS},
    )
    try:
        with transaction.atomic():
            member.save()
            consents = [k for k in ("agree_terms", "agree_privacy") if details.get(k) == "True"]
            detail = {**match_summary(match), **({"consents": consents} if consents else {})}
            MemberEvent.objects.create(member=member, action="signup", detail=detail)
            if utility.activation == Utility.Activation.AUTO and identity_matches(utility, match):
                activate_member(member, Customer.objects.get(pk=match["customer_id"]), staff=None)
    except IntegrityError as exc:
        return _explain_duplicate(utility, member, exc), False
    return member, True


def _explain_duplicate(utility: Utility, member: Member, error: IntegrityError) -> Member:
    """Tell a double submit (same kept details: already done) from a real clash."""
    members = Member.objects.holders(utility)
    existing = members.filter(email__iexact=member.email).first()
    # The password hash was salted once at ⑥ / ⑤, so only this signup's own earlier
    # submit has it; members of an email-login utility all have an empty login ID.
    if existing is not None and existing.password == member.password:
        return existing
    if member.login_id and members.filter(login_id__iexact=member.login_id).exists():
        raise LoginIdTaken
    if existing is not None:
        raise EmailTaken
    raise error

"""Signup (shared by the link and code styles), contract matching and staff review.

The signup pipeline, in the order a resident meets it:

1. ``start_signup`` (③) sends the mail that proves the address. It dispatches on
   ``utility.verification``: a one-time link here, a code in the email-code style.
2. Proving the address ends in ``mark_email_verified``: ``confirm_signup_link`` calls it
   for a link, ``confirm_signup_code`` (email-code style) for a code.
3. ``save_signup_details`` (⑥) keeps the answers in the session, secrets already hashed.
4. ``complete_signup`` (⑦ 本会員申請) matches the contract, creates the member and mails.
   Activation "auto" with a full match activates at once; otherwise staff review with
   ``choose_contract``, ``approve_member`` and ``reject_member``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from billing.models import Customer
from portal import normalize
from portal.models import Utility

from .. import emails, ratelimit, tokens
from ..models import EmailChallenge, Member, MemberEvent
from .matching import identity_matches, match_contract, match_summary
from .review import MAIL_ERRORS, activate_member, send_or_record

logger = logging.getLogger(__name__)

SIGNUP_SESSION_KEY = "accounts.signup"  # the proven address: {"utility", "email", "verified_at"}
SIGNUP_LINK_SESSION_KEY = "accounts.signup_link"  # a link token not yet used up
SIGNUP_DETAILS_SESSION_KEY = "accounts.signup_details"  # ⑥ answers, secrets hashed
SIGNUP_DONE_SESSION_KEY = "accounts.signup_done"
SIGNUP_SESSION_TTL = timedelta(hours=2)  # from proving the address to 本会員申請

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


# ③ Start: send the proof mail ------------------------------------------------------------


def start_signup(request: HttpRequest, utility: Utility, email: str) -> None:
    """Send the mail that proves ``email``, or an "already registered" mail to a member.

    The resident sees the same page either way (no enumeration). Raises RateLimited or
    MailNotSent.
    """
    ratelimit.check_signup_mail(request, utility.slug, email)
    request.session.pop(SIGNUP_LINK_SESSION_KEY, None)
    if Member.objects.filter(utility=utility, is_staff=False, email__iexact=email).exists():
        _send_or_raise(lambda: _send_existing(request, utility, email))
        return
    SIGNUP_ISSUERS[utility.verification](request, utility, email)


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


def _issue_signup_link(request: HttpRequest, utility: Utility, email: str) -> None:
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


# How each verification style sends its proof; the email-code style adds its issuer here.
SIGNUP_ISSUERS: dict[str, Callable[[HttpRequest, Utility, str], None]] = {
    Utility.Verification.LINK: _issue_signup_link,
}


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
    member, created = _create_member(utility, email, details, match)
    for key in (SIGNUP_SESSION_KEY, SIGNUP_LINK_SESSION_KEY, SIGNUP_DETAILS_SESSION_KEY):
        request.session.pop(key, None)
    request.session[SIGNUP_DONE_SESSION_KEY] = {"utility": utility.pk, "status": member.status}
    if created:
        send_or_record(member, "signup_complete", lambda: emails.send_signup_complete(member))
    return member


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
            MemberEvent.objects.create(member=member, action="signup", detail=match_summary(match))
            if utility.activation == Utility.Activation.AUTO and identity_matches(utility, match):
                activate_member(member, Customer.objects.get(pk=match["customer_id"]), staff=None)
    except IntegrityError as exc:
        return _explain_duplicate(utility, member, exc), False
    return member, True


def _explain_duplicate(utility: Utility, member: Member, error: IntegrityError) -> Member:
    """Tell a double submit (same address, same ID: already done) from a real clash."""
    members = Member.objects.filter(utility=utility, is_staff=False)
    existing = members.filter(email__iexact=member.email).first()
    if existing is not None and existing.login_id.casefold() == member.login_id.casefold():
        return existing
    if member.login_id and members.filter(login_id__iexact=member.login_id).exists():
        raise LoginIdTaken
    if existing is not None:
        raise EmailTaken
    raise error

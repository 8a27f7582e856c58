"""Signup (shared by the link and code styles), contract matching and staff review.

The signup pipeline, in the order a resident meets it:

1. ``start_signup`` (seed 000 ③, seed 003 ②) sends the mail that proves the address. It
   dispatches on ``utility.verification``: a one-time link, or a 6-digit code.
2. Proving the address ends in ``mark_email_verified``: ``confirm_signup_link`` calls it
   for a link, ``confirm_signup_code`` (seed 003 ④) for a code.
3. ``save_signup_details`` (⑥ / ⑤) keeps the answers in the session, secrets hashed.
4. ``complete_signup`` (本会員申請 / 登録) matches the contract, creates the member and mails.
   The code style refuses a contract that does not match (seed 003 ⑦) and lets the
   resident correct it. Activation "auto" with a full match activates at once (unless the
   contract already has the utility's most members); otherwise staff review
   (``services.review``).

Links and codes are ``accounts.challenges``; this module only decides when.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation

from billing.models import Customer
from portal import normalize
from portal.models import Utility

from .. import challenges, emails, ratelimit
from ..audit import log_event
from ..models import EmailChallenge, Member, MemberEvent
from .base import NotStarted, record_event
from .contracts import activate_member, has_room_for_another_member
from .matching import identity_matches, match_contract, match_summary

SIGNUP = EmailChallenge.Purpose.SIGNUP
SIGNUP_SESSION_KEY = "accounts.signup"  # the proven address: {"utility", "email", "verified_at"}
SIGNUP_LINK_SESSION_KEY = "accounts.signup_link"  # a link token not yet used up
SIGNUP_DETAILS_SESSION_KEY = "accounts.signup_details"  # ⑥ answers, secrets hashed
SIGNUP_DONE_SESSION_KEY = "accounts.signup_done"
SIGNUP_CODE_SESSION_KEY = (
    "accounts.signup_code"  # the code mailed: {"utility", "email", "challenge"}
)
SIGNUP_SESSION_TTL = timedelta(hours=2)  # from proving the address to 本会員申請
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


class LoginIdTaken(Exception):
    """Someone else registered the login ID first."""


class EmailTaken(Exception):
    """The address became a member's while this signup was in progress."""


class ContractNotMatched(Exception):
    """The typed values do not match a contract (seed 003 ⑦); ``problems`` name them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(", ".join(problems))
        self.problems = problems


class TooManyMismatches(Exception):
    """Too many refused 「登録」 for one proven address: start again from the address."""


# ③ Start: send the proof mail ------------------------------------------------------------


def start_signup(request: HttpRequest, utility: Utility, email: str) -> None:
    """Send the mail that proves ``email``, or an "already registered" mail to a member.

    The resident sees the same page either way (no enumeration), at the same speed: the mail
    is only written to the outbox. Raises RateLimited.
    """
    if utility.verification == Utility.Verification.CODE:
        # Checked before the hourly limits, so an early 「メールが届かない場合はこちら」
        # costs nothing. Raises CooldownActive (a RateLimited).
        ratelimit.start_code_cooldown(utility.slug, email)
    ratelimit.check_signup_mail(request, utility.slug, email)
    request.session.pop(SIGNUP_LINK_SESSION_KEY, None)
    is_member = Member.objects.holders(utility).filter(email__iexact=email).exists()
    SIGNUP_ISSUERS[utility.verification](request, utility, email, is_member)


def _send_existing(request: HttpRequest, utility: Utility, email: str) -> None:
    login_url = request.build_absolute_uri(reverse("accounts:login", args=[utility.slug]))
    recovery_url = request.build_absolute_uri(reverse("accounts:recovery", args=[utility.slug]))
    emails.send_signup_existing(utility, email, login_url, recovery_url)


def _issue_signup_link(request: HttpRequest, utility: Utility, email: str, is_member: bool) -> None:
    if is_member:
        _send_existing(request, utility, email)
        return
    # The challenge and its mail are written together (the outbox sends after commit).
    with transaction.atomic():
        challenge, token = challenges.issue_link(utility, SIGNUP, email)
        url = request.build_absolute_uri(
            reverse("accounts:signup_link", args=[utility.slug, token])
        )
        emails.send_signup_link(utility, email, url, challenge)


def _issue_signup_code(request: HttpRequest, utility: Utility, email: str, is_member: bool) -> None:
    with transaction.atomic():
        # A member's address gets a code no one can pass (and the login links by mail).
        challenge, code = challenges.issue_code(utility, SIGNUP, email, answerable=not is_member)
        if is_member:
            _send_existing(request, utility, email)
        else:
            emails.send_signup_code(utility, email, code, challenge)
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
    """Return the address this session was mailed a code for; raise NotStarted."""
    pending = request.session.get(SIGNUP_CODE_SESSION_KEY)
    if not pending or pending.get("utility") != utility.pk:
        raise NotStarted
    return pending["email"]


def resend_signup_code(request: HttpRequest, utility: Utility) -> None:
    """Mail a new code to the address of this session (「メールが届かない場合はこちら」)."""
    start_signup(request, utility, code_signup_email(request, utility))


def confirm_signup_code(request: HttpRequest, utility: Utility, code: str) -> str:
    """Check a typed code against the one mailed; if right, mark its address as proven.

    Raises NotStarted, RateLimited, or a challenges.ChallengeError (CodeWrong, CodeDead,
    ChallengeExpired).
    """
    email = code_signup_email(request, utility)
    ratelimit.check_signup_code(request, utility.slug, email)
    challenge_id = request.session[SIGNUP_CODE_SESSION_KEY]["challenge"]
    try:
        challenge = challenges.check_code(utility, SIGNUP, challenge_id, code)
    except challenges.ChallengeError as exc:
        log_event("signup_code_refused", request=request, reason=type(exc).__name__)
        raise
    challenges.use(challenge)
    request.session.pop(SIGNUP_CODE_SESSION_KEY, None)
    mark_email_verified(request, utility, challenge.email)
    log_event("signup_code_verified", request=request)
    return challenge.email


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


def _same_address(a: str | None, b: str) -> bool:
    return a is not None and a.casefold() == b.casefold()


def _open_signup_link(
    request: HttpRequest, utility: Utility, token: str, for_update: bool = False
) -> EmailChallenge:
    """The link's challenge; a used one only if this browser proved that address already
    (the resident opened the mail again mid-signup)."""
    challenge = challenges.open_link(utility, SIGNUP, token, allow_used=True, for_update=for_update)
    if challenge.used_at is not None and not _same_address(
        verified_email(request, utility), challenge.email
    ):
        raise challenges.ChallengeUsed
    return challenge


def signup_email(request: HttpRequest, utility: Utility) -> str:
    """Return the address this session is signing up, without using anything up.

    Raises NotStarted or a challenges.ChallengeError.
    """
    token = _stashed_token(request, utility)
    if token is not None:
        return _open_signup_link(request, utility, token).email
    verified = verified_email(request, utility)
    if verified is None:
        raise NotStarted
    return verified


def confirm_signup_link(request: HttpRequest, utility: Utility) -> str:
    """Use up the stashed signup link (once only) and mark its address as proven."""
    token = _stashed_token(request, utility)
    if token is None:
        raise NotStarted
    with transaction.atomic():
        challenge = _open_signup_link(request, utility, token, for_update=True)
        # Other links sent to the same address die too: one address, one signup.
        challenges.retire(utility=utility, purpose=SIGNUP, email=challenge.email)
    mark_email_verified(request, utility, challenge.email)
    return challenge.email


def verify_signup_email(request: HttpRequest, utility: Utility) -> str:
    """Return the proven address, using up a stashed signup link first if there is one."""
    if _stashed_token(request, utility) is not None:
        return confirm_signup_link(request, utility)
    email = verified_email(request, utility)
    if email is None:
        raise NotStarted
    return email


# ⑥ ⑦ Details and 本会員申請 --------------------------------------------------------------


def count_signup_details(request: HttpRequest, utility: Utility, email: str) -> None:
    """Count one submission of the details step, per client and per proven ``email``;
    raise RateLimited when there are too many (the step says whether a login ID is taken)."""
    ratelimit.check_signup_details(request, utility.slug, email)


def save_signup_details(request: HttpRequest, utility: Utility, details: dict) -> None:
    """Keep the details-step answers for 本会員申請, password and secret answer hashed.

    A secret answer left empty after 「入力画面に戻る」 (the form says 「入力済み」) keeps the
    hash of the one typed before: the answer itself is never kept, nor sent back to a page.
    """
    data = {k: v for k, v in details.items() if k not in ("password", "password_confirm")}
    data["password_hash"] = make_password(details["password"])
    answer = data.pop("secret_answer", "")
    data["secret_answer_hash"] = (
        make_password(normalize.secret_answer(answer))
        if answer
        else _kept_answer_hash(request, utility)
    )
    request.session[SIGNUP_DETAILS_SESSION_KEY] = {"utility": utility.pk, "values": data}


def _kept_answer_hash(request: HttpRequest, utility: Utility) -> str:
    stored = request.session.get(SIGNUP_DETAILS_SESSION_KEY)
    if not stored or stored.get("utility") != utility.pk:
        return ""
    return stored["values"].get("secret_answer_hash", "")


def secret_answer_kept(request: HttpRequest, utility: Utility) -> bool:
    """Tell whether the details step already has a secret answer (its hash) for this signup."""
    return bool(utility.asks_secret_question and _kept_answer_hash(request, utility))


def saved_signup_details(request: HttpRequest, utility: Utility) -> dict:
    """Return the kept answers without their hashes (to refill the details form)."""
    stored = request.session.get(SIGNUP_DETAILS_SESSION_KEY)
    if not stored or stored.get("utility") != utility.pk:
        return {}
    return {k: v for k, v in stored["values"].items() if not k.endswith("_hash")}


def complete_signup(request: HttpRequest, utility: Utility) -> Member:
    """Create the member from the proven address and the kept details (本会員申請).

    Raises RateLimited, NotStarted, LoginIdTaken, EmailTaken, ContractNotMatched or
    TooManyMismatches. The completion mail is written with the member (the outbox sends it;
    if it finally fails, the failure is in the member's history for staff).
    """
    ratelimit.check_signup_attempt(request)
    email = verified_email(request, utility)
    stored = request.session.get(SIGNUP_DETAILS_SESSION_KEY)
    if email is None or not stored or stored.get("utility") != utility.pk:
        raise NotStarted
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


def _chosen_language() -> str:
    language = translation.get_language()
    return "" if language == settings.LANGUAGE_CODE else language


def _create_member(utility: Utility, email: str, details: dict, match: dict) -> tuple[Member, bool]:
    member = Member(
        utility=utility,
        email=email,
        password=details["password_hash"],
        secret_answer_hash=details.get("secret_answer_hash", ""),
        signup_customer_number=normalize.digits(details.get("customer_number", "")),
        signup_match=match,
        status=Member.Status.PENDING,
        # The language of the signup pages, when not Japanese: the approval and every later
        # mail are written in it, even those staff cause from the (Japanese) admin.
        language=_chosen_language(),
        **{field: details.get(field, "") for field in MEMBER_DETAIL_FIELDS},
    )
    try:
        with transaction.atomic():
            member.save()
            consents = [k for k in ("agree_terms", "agree_privacy") if details.get(k) == "True"]
            detail = {**match_summary(match), **({"consents": consents} if consents else {})}
            MemberEvent.objects.create(member=member, action="signup", detail=detail)
            if utility.activation == Utility.Activation.AUTO and identity_matches(utility, match):
                _activate_if_room(member, Customer.objects.get(pk=match["customer_id"]))
            emails.send_signup_complete(member)
    except IntegrityError as exc:
        return _explain_duplicate(utility, member, exc), False
    return member, True


def _activate_if_room(member: Member, customer: Customer) -> None:
    """Activate at once, unless the contract already has the most members it may: staff decide."""
    if has_room_for_another_member(customer):
        activate_member(member, customer, staff=None)
        return
    record_event(
        member, "member_cap_reached", by_portal=True, detail={"customer_number": customer.number}
    )


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

"""Every mailed proof of an address, a link or a 6-digit code, is one EmailChallenge.

This module alone issues, opens, checks, uses and retires them; the flows (signup,
recovery, email change) only decide when, and what the resident sees:

1. ``issue_link`` / ``issue_code`` write the row (a hash only) and return the secret to mail.
2. ``open_link`` reads a link's token back to its row; ``check_code`` compares a typed code,
   counting a wrong one against the utility's ``code_attempts``.
3. ``use`` spends it. ``retire`` kills every proof still out, as when a member's address,
   password or secret answer changes or the member withdraws (``retire_member``).

Expiry is the row's ``expires_at`` (the signature only proves a token is ours), so one
deadline holds for the link, the code and the sentence in the mail.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone

from portal.models import Utility

from . import tokens
from .models import EmailChallenge, Member

Purpose = EmailChallenge.Purpose

LINK_SALTS = {
    Purpose.SIGNUP: tokens.SIGNUP_LINK_SALT,
    Purpose.PASSWORD_RESET: tokens.RESET_LINK_SALT,
    Purpose.EMAIL_CHANGE: tokens.EMAIL_CHANGE_LINK_SALT,
}
RESET_LINK_LIFETIME = timedelta(hours=1)


class ChallengeError(Exception):
    """The link or code proves nothing (any more); the subclass says why."""


class ChallengeInvalid(ChallengeError):
    """Not made by us, cut or altered, or someone else's."""


class ChallengeExpired(ChallengeError):
    """Genuine, but past its deadline."""


class ChallengeUsed(ChallengeError):
    """Used already, or retired by a newer request or a change to the account."""


class CodeWrong(ChallengeError):
    """The code does not match; ``attempts_left`` more tries before it dies."""

    def __init__(self, attempts_left: int) -> None:
        super().__init__(f"{attempts_left} attempts left")
        self.attempts_left = attempts_left


class CodeDead(ChallengeError):
    """Typed wrong too often: only a new code helps."""


def link_lifetime(utility: Utility, purpose: str) -> timedelta:
    if purpose == Purpose.PASSWORD_RESET:
        return RESET_LINK_LIFETIME
    return timedelta(hours=utility.signup_link_ttl_hours)


def code_lifetime(utility: Utility) -> timedelta:
    return timedelta(minutes=utility.code_ttl_minutes)


def _create(
    utility: Utility,
    purpose: str,
    email: str,
    member: Member | None,
    secret_hash: str,
    lifetime: timedelta,
    attempts: int,
) -> EmailChallenge:
    return EmailChallenge.objects.create(
        utility=utility,
        member=member,
        purpose=purpose,
        email=email,
        secret_hash=secret_hash,
        # Hours the portal is closed do not count: the mail states this deadline.
        expires_at=utility.open_deadline(timezone.now(), lifetime),
        attempts_left=attempts,
    )


def issue_link(
    utility: Utility, purpose: str, email: str, *, member: Member | None = None
) -> tuple[EmailChallenge, str]:
    """Write a one-time link's row; return it and the token to put in the mailed URL."""
    nonce = tokens.new_nonce()
    challenge = _create(
        utility,
        purpose,
        email,
        member,
        tokens.hash_nonce(nonce),
        link_lifetime(utility, purpose),
        attempts=1,
    )
    return challenge, tokens.make_link_token(challenge.pk, nonce, salt=LINK_SALTS[purpose])


def issue_code(
    utility: Utility,
    purpose: str,
    email: str,
    *,
    member: Member | None = None,
    answerable: bool = True,
) -> tuple[EmailChallenge, str]:
    """Write a 6-digit code's row, killing earlier codes to the address; return it and the code.

    ``answerable=False`` writes a row no code passes, for an address that must get no code
    (unknown, or someone else's): the code page then counts, expires and dies exactly as
    for a real one, so it tells nobody which addresses are registered.
    """
    code = tokens.make_code()
    retire(utility=utility, purpose=purpose, email=email)
    # Hashed either way: the hash costs tens of milliseconds, and a request for an unknown
    # address that skipped it would answer that much sooner (enumeration by timing).
    secret_hash = make_password(code)
    challenge = _create(
        utility,
        purpose,
        email,
        member,
        secret_hash if answerable else make_password(None),
        code_lifetime(utility),
        attempts=utility.code_attempts,
    )
    return challenge, code


def open_link(
    utility: Utility,
    purpose: str,
    token: str,
    *,
    member: Member | None = None,
    allow_used: bool = False,
    for_update: bool = False,
) -> EmailChallenge:
    """Return the row behind a mailed link; raise ChallengeInvalid, ChallengeUsed or ChallengeExpired.

    ``member`` confines the link to that member's own challenges; ``allow_used`` returns a
    used row instead of refusing it (signup lets a resident reopen their own mail).
    """
    try:
        challenge_id, nonce = tokens.read_link_token(token, salt=LINK_SALTS[purpose])
    except tokens.TokenInvalid as exc:
        raise ChallengeInvalid from exc
    rows = EmailChallenge.objects.filter(pk=challenge_id, utility=utility, purpose=purpose)
    if member is not None:
        rows = rows.filter(member=member)
    if for_update:
        rows = rows.select_for_update()
    challenge = rows.first()
    if challenge is None or not tokens.nonce_matches(nonce, challenge.secret_hash):
        raise ChallengeInvalid
    if challenge.used_at is not None:
        if allow_used:
            return challenge
        raise ChallengeUsed
    if challenge.expires_at <= timezone.now():
        raise ChallengeExpired
    return challenge


def check_code(
    utility: Utility,
    purpose: str,
    challenge_id: int | None,
    code: str,
    *,
    member: Member | None = None,
) -> EmailChallenge:
    """Return the challenge if ``code`` is its code; a wrong one uses up a try.

    Raises CodeWrong, CodeDead, ChallengeUsed or ChallengeExpired. The row lock makes two guesses sent at
    once count as two.
    """
    with transaction.atomic():
        rows = EmailChallenge.objects.select_for_update().filter(
            pk=challenge_id, utility=utility, purpose=purpose
        )
        if member is not None:
            rows = rows.filter(member=member)
        challenge = rows.first()
        refusal = _code_refusal(challenge, code)
    if refusal is not None:
        raise refusal
    return challenge


def _code_refusal(challenge: EmailChallenge | None, code: str) -> ChallengeError | None:
    # Used, or retired by a newer code or a change to the account: the resident is told
    # that, not that they typed it wrong too often.
    if challenge is None or challenge.used_at is not None:
        return ChallengeUsed()
    if challenge.attempts_left <= 0:
        return CodeDead()
    if challenge.expires_at <= timezone.now():
        return ChallengeExpired()
    if check_password(code, challenge.secret_hash):
        return None
    challenge.attempts_left -= 1
    challenge.save(update_fields=["attempts_left"])
    return CodeDead() if challenge.attempts_left == 0 else CodeWrong(challenge.attempts_left)


def use(challenge: EmailChallenge) -> None:
    """Spend a challenge: its link or code never works again."""
    challenge.used_at = timezone.now()
    challenge.save(update_fields=["used_at"])


def retire(**scope) -> int:
    """Kill every live challenge matching ``scope`` (utility, purpose, email, member)."""
    if "email" in scope:
        scope["email__iexact"] = scope.pop("email")
    live = EmailChallenge.objects.filter(used_at__isnull=True, **scope)
    return live.update(used_at=timezone.now())


def retire_member(member: Member) -> int:
    """Kill every link and code still out for ``member`` (reset, email change, any purpose).

    Called whenever the address, password or secret answer changes and at withdrawal: a
    proof issued before such a change must not outlive it.
    """
    return retire(member=member)

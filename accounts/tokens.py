"""Signed one-time links and numeric codes sent by mail. Pure helpers: no ORM, no HTTP."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.core import signing
from django.utils.crypto import constant_time_compare

SIGNUP_LINK_SALT = "accounts.signup-link"
RESET_LINK_SALT = "accounts.reset-link"
EMAIL_CHANGE_LINK_SALT = "accounts.email-change-link"
CODE_DIGITS = 6


class TokenInvalid(Exception):
    """The token was not made by us, or was altered."""


class TokenExpired(Exception):
    """The token is genuine but older than its time to live."""


def new_nonce() -> str:
    """Return a fresh random secret to put in one link (256 bits)."""
    return secrets.token_urlsafe(32)


def hash_nonce(nonce: str) -> str:
    """Return the stored form of a link nonce.

    A plain SHA-256 is enough here: the nonce is 256 random bits, so there is nothing to
    guess and a slow password hasher would only slow the link page down.
    """
    return hashlib.sha256(nonce.encode()).hexdigest()


def nonce_matches(nonce: str, stored_hash: str) -> bool:
    return constant_time_compare(hash_nonce(nonce), stored_hash)


def make_link_token(challenge_id: int, nonce: str, salt: str = SIGNUP_LINK_SALT) -> str:
    """Return the URL-safe token naming one challenge row and carrying its nonce."""
    return signing.dumps({"c": challenge_id, "n": nonce}, salt=salt)


def read_link_token(
    token: str, max_age: timedelta | None = None, salt: str = SIGNUP_LINK_SALT
) -> tuple[int, str]:
    """Return (challenge id, nonce) from a token, or raise TokenInvalid / TokenExpired.

    Challenges keep their own deadline (``expires_at``), so callers pass no ``max_age``.
    """
    try:
        payload = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise TokenExpired from exc
    except signing.BadSignature as exc:
        raise TokenInvalid from exc
    if not isinstance(payload, dict):
        raise TokenInvalid
    challenge_id, nonce = payload.get("c"), payload.get("n")
    if not isinstance(challenge_id, int) or not isinstance(nonce, str):
        raise TokenInvalid
    return challenge_id, nonce


def make_code() -> str:
    """Return a 6-digit code, zero-padded (store only make_password(code))."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"

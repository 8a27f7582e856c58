"""Rate limits for mail-sending and signup endpoints (the limiter is ``portal.ratelimit``).

Rates are read at call time from ``PORTAL_*`` settings, with the defaults below.
"""

from __future__ import annotations

import logging
import math

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django.utils import timezone

from portal import normalize
from portal.net import client_ip
from portal.ratelimit import (  # noqa: F401 - accounts' callers import them from here
    Limit,
    LimiterUnavailable,
    RateLimited,
    _hashed,
    hit,
    hit_all,
)

logger = logging.getLogger(__name__)

SIGNUP_MAIL_PER_EMAIL = Limit(
    "accounts.signup-mail.email", "PORTAL_SIGNUP_MAIL_RATE_PER_EMAIL", "3/h"
)
SIGNUP_MAIL_PER_IP = Limit("accounts.signup-mail.ip", "PORTAL_SIGNUP_MAIL_RATE_PER_IP", "20/h")
SIGNUP_ATTEMPT_PER_IP = Limit(
    "accounts.signup-attempt.ip", "PORTAL_SIGNUP_ATTEMPT_RATE_PER_IP", "30/h"
)
# ⑥ tells whether a login ID is taken: one signup (one proven address) may ask so often,
# from whatever client addresses it comes.
SIGNUP_ATTEMPT_PER_EMAIL = Limit(
    "accounts.signup-attempt.email", "PORTAL_SIGNUP_ATTEMPT_RATE_PER_EMAIL", "10/h"
)


def check_signup_mail(request: HttpRequest, utility_slug: str, email: str) -> None:
    """Limit signup mails per address (within the utility) and per client address."""
    hit_all(
        request,
        (SIGNUP_MAIL_PER_EMAIL, f"{utility_slug}:{normalize.identifier(email)}"),
        (SIGNUP_MAIL_PER_IP, client_ip(request)),
    )


def check_signup_attempt(request: HttpRequest) -> None:
    """Limit signup form submissions (details and 本会員申請) per client address."""
    hit(request, SIGNUP_ATTEMPT_PER_IP, client_ip(request))


def check_signup_details(request: HttpRequest, utility_slug: str, email: str) -> None:
    """Limit submissions of the details step per client address and per proven address."""
    hit_all(
        request,
        (SIGNUP_ATTEMPT_PER_IP, client_ip(request)),
        (SIGNUP_ATTEMPT_PER_EMAIL, f"{utility_slug}:{normalize.identifier(email)}"),
    )


# Recovery and account settings (issue 5) ------------------------------------------------

RECOVERY_LOOKUP_PER_IP = Limit(
    "accounts.recovery-lookup.ip", "PORTAL_RECOVERY_LOOKUP_RATE_PER_IP", "10/h"
)
RESET_MAIL_PER_EMAIL = Limit("accounts.reset-mail.email", "PORTAL_RESET_MAIL_RATE_PER_EMAIL", "3/h")
RESET_MAIL_PER_IP = Limit("accounts.reset-mail.ip", "PORTAL_RESET_MAIL_RATE_PER_IP", "20/h")
RECOVERY_CODE_PER_IP = Limit(
    "accounts.recovery-code.ip", "PORTAL_RECOVERY_CODE_RATE_PER_IP", "30/h"
)
EMAIL_CHANGE_PER_MEMBER = Limit(
    "accounts.email-change.member", "PORTAL_EMAIL_CHANGE_RATE_PER_MEMBER", "5/h"
)
PASSWORD_CHECK_PER_MEMBER = Limit(
    "accounts.password-check.member", "PORTAL_PASSWORD_CHECK_RATE_PER_MEMBER", "10/h"
)
CONTRACT_ADD_PER_MEMBER = Limit(
    "accounts.contract-add.member", "PORTAL_CONTRACT_ADD_RATE_PER_MEMBER", "10/h"
)


def check_recovery_lookup(request: HttpRequest) -> None:
    """Limit 「ログインID/パスワードを忘れた方」 lookups (address + number) per client address."""
    hit(request, RECOVERY_LOOKUP_PER_IP, client_ip(request))


def check_reset_mail(request: HttpRequest, utility_slug: str, email: str) -> None:
    """Limit password-reset mails per address (within the utility) and per client address."""
    hit_all(
        request,
        (RESET_MAIL_PER_EMAIL, f"{utility_slug}:{normalize.identifier(email)}"),
        (RESET_MAIL_PER_IP, client_ip(request)),
    )


def check_recovery_code(request: HttpRequest) -> None:
    """Limit code entries on the password-reset and email-change code pages per client."""
    hit(request, RECOVERY_CODE_PER_IP, client_ip(request))


def check_member_limit(request: HttpRequest, limit: Limit, member_id: int) -> None:
    """Limit a logged-in member's own actions (email change, password checks, contracts)."""
    hit(request, limit, f"member:{member_id}")


# Signup by email code (issue 4) ---------------------------------------------------------

SIGNUP_CODE_ATTEMPT_PER_EMAIL = Limit(
    "accounts.signup-code.email", "PORTAL_SIGNUP_CODE_RATE_PER_EMAIL", "20/h"
)
SIGNUP_CODE_ATTEMPT_PER_IP = Limit(
    "accounts.signup-code.ip", "PORTAL_SIGNUP_CODE_RATE_PER_IP", "30/h"
)
SIGNUP_CODE_COOLDOWN_SETTING = "PORTAL_SIGNUP_CODE_COOLDOWN_SECONDS"
SIGNUP_CODE_COOLDOWN_DEFAULT = 60


class CooldownActive(RateLimited):
    """A code was mailed to this address moments ago; wait before asking for another."""


def check_signup_code(request: HttpRequest, utility_slug: str, email: str) -> None:
    """Limit code entries per address (within the utility) and per client address."""
    hit_all(
        request,
        (SIGNUP_CODE_ATTEMPT_PER_EMAIL, f"{utility_slug}:{normalize.identifier(email)}"),
        (SIGNUP_CODE_ATTEMPT_PER_IP, client_ip(request)),
    )


def start_code_cooldown(utility_slug: str, email: str) -> None:
    """Start the pause between two code mails to one address, or raise CooldownActive.

    Unlike the hourly windows above this counts from the last mail, so 「メールが届かない
    場合はこちら」 always works again exactly that many seconds later.
    """
    seconds = getattr(settings, SIGNUP_CODE_COOLDOWN_SETTING, SIGNUP_CODE_COOLDOWN_DEFAULT)
    address = f"{utility_slug}:{normalize.identifier(email)}"
    key = f"portal.signup-code-cooldown:{_hashed(address)}"
    now = timezone.now().timestamp()
    cache = caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]
    try:
        if seconds and not cache.add(key, now, timeout=seconds):
            started = cache.get(key, now)
            raise CooldownActive(math.ceil(started + seconds - now))
    except CooldownActive:
        raise
    except Exception as exc:  # noqa: BLE001 - see hit()
        logger.warning("cooldown cache unavailable: %s", exc)
        raise LimiterUnavailable from exc

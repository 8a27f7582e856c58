"""Auth events to the log: utility, time, client address; never a password, token, code or answer."""

from __future__ import annotations

import logging

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from portal.net import client_ip

from . import lockout

logger = logging.getLogger("accounts.audit")

# Keys that must never reach a log line, whatever a caller passes.
SECRET_KEYS = {"password", "password1", "password2", "token", "code", "answer", "secret_answer"}
# What a visitor typed is logged up to this many characters (an email address has at most
# 254): a 2 MB username must not become a 2 MB log line.
LONGEST_LOGGED_VALUE = 256


def log_event(
    event: str,
    *,
    request: HttpRequest | None = None,
    utility=None,
    member=None,
    **detail,
) -> None:
    """Write one auth event (login, lockout, signup, approval, recovery, password change)."""
    utility = utility or getattr(request, "utility", None) or getattr(member, "utility", None)
    safe = {k: v for k, v in detail.items() if k not in SECRET_KEYS}
    logger.info(
        "event=%s utility=%s member=%s ip=%s %s",
        event,
        getattr(utility, "slug", "-"),
        getattr(member, "pk", "-"),
        _quoted(client_ip(request)),
        " ".join(f"{k}={_quoted(v)}" for k, v in sorted(safe.items())),
        extra={"event": event},
    )


def _quoted(value) -> str:
    """Write a value so that it can never end the line or pose as another field.

    What a visitor typed (an identifier with a newline and ``event=login_succeeded``) is
    escaped and, if it holds a space, quotes or ``=``, quoted: one event, one line. A value
    longer than LONGEST_LOGGED_VALUE is cut, saying how many characters were left out.
    """
    value = str(value)
    left_out = len(value) - LONGEST_LOGGED_VALUE
    characters = []
    for ch in value[:LONGEST_LOGGED_VALUE]:
        if ch in '"\\':
            characters.append("\\" + ch)
        elif ch.isprintable():
            characters.append(ch)
        else:  # newlines, tabs, line separators, other controls
            characters.append(ch.encode("unicode_escape").decode("ascii"))
    text = "".join(characters) + (f"...(+{left_out})" if left_out > 0 else "")
    return f'"{text}"' if not text or any(ch in text for ch in ' ="') else text


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs) -> None:
    log_event("login_succeeded", request=request, member=user)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        log_event("logged_out", request=request, member=user)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django has already replaced the password with stars; the identifier is not a secret.
    typed = {"utility": credentials.get("utility"), "identifier": credentials.get("username", "")}
    refused_by = getattr(request, lockout.REFUSED_BY, None)
    if refused_by is not None:
        # Refused by a lock before the password was checked: no failure, and the line says
        # which key is locked (the address, the identifier, or both), not the one typed.
        log_event("login_refused", request=request, **typed, **refused_by)
    else:
        log_event("login_failed", request=request, **typed)


def _locked_out(sender, request, username, ip_address, **kwargs) -> None:
    if getattr(request, lockout.REFUSED_BY, None) is not None:
        return  # axes says so for every refusal too; that was logged as login_refused
    credentials = getattr(request, "axes_credentials", None) or {}
    log_event(
        "locked_out",
        request=request,
        utility=credentials.get("utility"),
        **lockout.locked_keys(request, credentials),
    )


def connect_axes() -> None:
    from axes.signals import user_locked_out

    user_locked_out.connect(_locked_out, dispatch_uid="accounts.audit.locked_out")

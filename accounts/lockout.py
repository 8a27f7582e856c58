"""Where a login lock holds, and which key refused an attempt (django-axes, scoped).

An identifier's key carries its scope already (``kanazawa:suidotaro``, ``staff:<login ID>``
for the admin; ``accounts.backends.lockout_key``). An address is counted and locked within
the scope of the login it failed at: a spray at Nayoro's login locks that address at
Nayoro's login only, not at Kanazawa's nor at the admin, and so it is a lock that Nayoro's
staff see and lift (README "Login lockout").
"""

from __future__ import annotations

from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_credentials, get_failure_limit
from axes.models import AccessAttempt
from django.db.models import QuerySet, Sum
from django.http import HttpRequest

from .backends import lockout_scope

# Set on a request whose login a lock refused before its password was checked: the keys
# that refused it, for the audit log (a refusal is no failure, README "Login lockout").
REFUSED_BY = "portal_refused_by"


def attempts_by_key(request: HttpRequest, credentials: dict | None) -> dict[str, QuerySet]:
    """Return the failures that count against this attempt's identifier and its address.

    These are AXES_LOCKOUT_PARAMETERS' two keys, ``username`` and ``ip_address``, the
    address's within the login the identifier's key names.
    """
    key = get_client_username(request, credentials)
    return {
        "identifier": AccessAttempt.objects.filter(username=key),
        "address": AccessAttempt.objects.filter(
            ip_address=request.axes_ip_address, username__startswith=lockout_scope(key) + ":"
        ),
    }


def locked_keys(request: HttpRequest, credentials: dict | None) -> dict[str, str]:
    """Name the keys locked for this attempt: ``{"locked_address": "10.253.2.1"}`` and/or
    ``{"locked_identifier": "nayoro:taro@example.jp"}``."""
    since = get_cool_off_threshold(request)
    limit = get_failure_limit(request, credentials)
    names = {
        "identifier": get_client_username(request, credentials),
        "address": request.axes_ip_address,
    }
    locked = {}
    for kind, attempts in attempts_by_key(request, credentials).items():
        recent = attempts.filter(attempt_time__gte=since)
        if (recent.aggregate(total=Sum("failures_since_start"))["total"] or 0) >= limit:
            locked[f"locked_{kind}"] = names[kind]
    return locked


class ScopedDatabaseHandler(AxesDatabaseHandler):
    """AXES_HANDLER: axes' own handler, but an address's failures count within one login."""

    def filter_user_attempts(
        self, request: HttpRequest, credentials: dict | None = None
    ) -> list[QuerySet]:
        return list(attempts_by_key(request, credentials).values())


class LockoutBackend(AxesStandaloneBackend):
    """The first authentication backend: axes' refusal of a locked identifier or address,
    noting on the request which key refused it."""

    def authenticate(
        self,
        request: HttpRequest,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            return super().authenticate(request, username=username, password=password, **kwargs)
        except AxesBackendPermissionDenied:
            credentials = get_credentials(username=username, password=password, **kwargs)
            setattr(request, REFUSED_BY, locked_keys(request, credentials))
            raise

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
from django.db.models import Q, QuerySet, Sum
from django.http import HttpRequest

from .backends import lockout_scope, member_lockout_key

# Set on a request whose login a lock refused before its password was checked: the keys
# that refused it, for the audit log (a refusal is no failure, README "Login lockout").
REFUSED_BY = "portal_refused_by"


def key_filters(request: HttpRequest, credentials: dict | None) -> dict[str, Q]:
    """Return the failures that count against this attempt's identifier and its address.

    These are AXES_LOCKOUT_PARAMETERS' two keys, ``username`` and ``ip_address``, the
    address's within the login the identifier's key names.
    """
    key = get_client_username(request, credentials)
    return {
        "identifier": Q(username=key),
        "address": Q(
            ip_address=request.axes_ip_address, username__startswith=lockout_scope(key) + ":"
        ),
    }


def failures_by_key(request: HttpRequest, credentials: dict | None) -> dict[str, int]:
    """Return the failures within the cool-off on each key, both from one query.

    (Axes summed each key in a query of its own; every login asks this before its hash.)
    """
    by_key = key_filters(request, credentials)
    recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
    totals = recent.filter(by_key["identifier"] | by_key["address"]).aggregate(
        **{kind: Sum("failures_since_start", filter=where) for kind, where in by_key.items()}
    )
    return {kind: total or 0 for kind, total in totals.items()}


def locked_keys(request: HttpRequest, credentials: dict | None) -> dict[str, str]:
    """Name the keys locked for this attempt: ``{"locked_address": "10.253.2.1"}`` and/or
    ``{"locked_identifier": "nayoro:taro@example.jp"}``."""
    limit = get_failure_limit(request, credentials)
    names = {
        "identifier": get_client_username(request, credentials),
        "address": request.axes_ip_address,
    }
    return {
        f"locked_{kind}": names[kind]
        for kind, total in failures_by_key(request, credentials).items()
        if total >= limit
    }


class ScopedDatabaseHandler(AxesDatabaseHandler):
    """AXES_HANDLER: axes' own handler, but an address's failures count within one login."""

    def filter_user_attempts(
        self, request: HttpRequest, credentials: dict | None = None
    ) -> list[QuerySet]:
        return [
            AccessAttempt.objects.filter(where)
            for where in key_filters(request, credentials).values()
        ]

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """The larger count of the two keys, as axes' own (which asks once a key)."""
        return max(failures_by_key(request, credentials).values())

    def user_logged_in(self, sender, request: HttpRequest, user, **kwargs) -> None:
        """A right password clears that identifier's failures, never the address's; and the
        attempts past the cool-off go, as axes' own handler does. One look for both.

        (AXES_RESET_ON_SUCCESS would clear the address's too, and let an intruder with an
        account of their own wipe a spray's count by logging in between guesses. Axes' handler
        and a separate reset each read and deleted in a transaction of their own: six
        statements a login, where nearly always there is nothing to delete.)
        """
        gone = Q(username=member_lockout_key(user)) | Q(
            attempt_time__lte=get_cool_off_threshold(request)
        )
        ids = list(AccessAttempt.objects.filter(gone).values_list("pk", flat=True))
        if ids:
            AccessAttempt.objects.filter(pk__in=ids).delete()


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

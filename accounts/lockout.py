"""Where a login lock holds: django-axes' database handler, with address locks per login.

An identifier's key carries its scope already (``kanazawa:suidotaro``, ``staff:<login ID>``
for the admin; ``accounts.backends.lockout_key``). An address is counted and locked within
the scope of the login it failed at: a spray at Nayoro's login locks that address at
Nayoro's login only, not at Kanazawa's nor at the admin, and so it is a lock that Nayoro's
staff see and lift (README "Login lockout").
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_parameters, get_client_username
from axes.models import AccessAttempt
from django.db.models import QuerySet
from django.http import HttpRequest

from .backends import lockout_scope


class ScopedDatabaseHandler(AxesDatabaseHandler):
    """AXES_HANDLER: axes' own handler, but an address's failures count within one scope."""

    def filter_user_attempts(
        self, request: HttpRequest, credentials: dict | None = None
    ) -> list[QuerySet]:
        key = get_client_username(request, credentials)
        parameters = get_client_parameters(
            key, request.axes_ip_address, request.axes_user_agent, request, credentials
        )
        scope = {"username__startswith": lockout_scope(key) + ":"}
        return [
            AccessAttempt.objects.filter(**filters, **({} if "username" in filters else scope))
            for filters in parameters
        ]

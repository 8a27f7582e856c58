"""Authentication scoped by utility: the same login ID in two utilities is two people."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db.models import Case, Value, When
from django.http import HttpRequest

from portal import normalize
from portal.models import Utility

from .models import Member


def find_resident(utility: Utility, identifier: str) -> Member | None:
    """Return the resident of this utility who signs in with this login ID or email.

    A member who withdrew and registered again has two rows; the current one wins, and a
    withdrawn row is only found (to say 退会済み) when there is no other.
    """
    members = Member.objects.filter(utility=utility, is_staff=False).order_by(
        Case(When(status=Member.Status.WITHDRAWN, then=Value(1)), default=Value(0)), "-pk"
    )
    if utility.logs_in_with_email:
        return members.filter(email__iexact=normalize.nfkc(identifier)).first()
    return members.filter(login_id__iexact=normalize.login_id(identifier)).first()


class MemberBackend(ModelBackend):
    """Residents sign in under their utility's URL; staff sign in to the admin by login ID.

    A correct password returns the member whatever its status, so the login form can say in
    plain words why a pending or withdrawn member cannot come in; only active members are
    ever logged in (``get_user`` drops the others from their sessions too).
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        utility: Utility | None = None,
        **kwargs: Any,
    ) -> Member | None:
        if not username or not password:
            return None
        if utility is None:
            member = Member.objects.filter(
                is_staff=True, login_id__iexact=normalize.nfkc(username)
            ).first()
        else:
            member = find_resident(utility, username)
        if member is None:
            Member().set_password(password)  # same work as a real check: no timing oracle
            return None
        return member if member.check_password(password) else None

    def get_user(self, user_id: int) -> Member | None:  # type: ignore[override]
        member = Member.objects.select_related("utility").filter(pk=user_id).first()
        return member if member is not None and member.is_active else None


def axes_username(request: HttpRequest, credentials: dict) -> str:
    """Key django-axes lockouts by utility and identifier, so tenants never lock each other."""
    utility = credentials.get("utility")
    scope = utility.slug if isinstance(utility, Utility) else "staff"
    return f"{scope}:{normalize.login_id(str(credentials.get('username', '')))}"

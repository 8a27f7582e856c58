"""Authentication scoped by utility, and the keys django-axes locks out by.

The same login ID in two utilities is two people, so every lookup and every lockout key
carries the utility. Identifiers are normalised once (``portal.normalize.identifier``)
before the lookup, the lockout and the rate limiter see them.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db import connections, router
from django.db.models import Case, Value, When
from django.http import HttpRequest

from billing import pagecache
from portal import normalize
from portal.models import Utility

from .models import Member

STAFF_SCOPE = "staff"
# axes keeps the key in a varchar(255); longer identifiers are kept as their hash.
LONGEST_PLAIN_KEY = 200


def find_resident(utility: Utility, identifier: str) -> Member | None:
    """Return the resident of this utility who signs in with this login ID or email.

    A member who withdrew and registered again has two rows; the current one wins, and a
    withdrawn row is only found (to say 退会済み) when there is no other.
    """
    identifier = normalize.identifier(identifier)
    if not normalize.can_name_an_account(identifier):
        return None
    members = Member.objects.filter(utility=utility, is_staff=False).order_by(
        Case(When(status=Member.Status.WITHDRAWN, then=Value(1)), default=Value(0)), "-pk"
    )
    if utility.logs_in_with_email:
        member = members.filter(email__iexact=identifier).first()
    else:
        member = members.filter(login_id__iexact=identifier).first()
    if member is not None:  # its utility is this one: no query when the login reads it
        Member.utility.field.set_cached_value(member, utility)
    return member


def find_staff(identifier: str) -> Member | None:
    identifier = normalize.identifier(identifier)
    if not normalize.can_name_an_account(identifier):
        return None
    return Member.objects.filter(is_staff=True, login_id__iexact=identifier).first()


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
        member = find_staff(username) if utility is None else find_resident(utility, username)
        if member is None:
            Member().set_password(password)  # same work as a real check: no timing oracle
            return None
        return member if member.check_password(password) else None

    def get_user(self, user_id: int) -> Member | None:  # type: ignore[override]
        member = signed_in_member(user_id)
        return member if member is not None and member.is_active else None


# A resident's row and its utility's, kept in the shared cache between their requests
# (issue 17: the query, and the connection check before it, were most of a signed-in page
# that shows nothing of the database). Stale as soon as either row (or another member of the
# same bucket, or any utility) is saved or deleted, except a login's last_login stamp
# (generations moved at once and again at commit, billing.pagecache.move_on): a member
# withdrawn, rejected or given a new password in the admin or by a service loses the old
# session's access on the next request. A change written around the ORM's save (a queryset
# update, SQL) is seen within MEMBER_SECONDS.
MEMBER_KEY = "accounts.member:{}"
# One generation for each bucket of members (id modulo MEMBER_BUCKETS), so that a session key,
# which names its member's bucket, says which generation to fetch with the session
# (accounts.sessions); a change of one member makes its bucket's few dozen entries stale.
MEMBER_GENERATION = "accounts.member_generation:{}"
MEMBER_BUCKETS = 36 * 36
UTILITIES_GENERATION = "accounts.utilities_generation"
MEMBER_SECONDS = 60
# A generation unused for this long is dropped (its entry went long before).
MEMBER_GENERATION_SECONDS = 24 * 60 * 60
LOGIN_ONLY_FIELDS = frozenset({"last_login"})


def member_bucket(member_id: int) -> int:
    return int(member_id) % MEMBER_BUCKETS


def member_generations(bucket: int) -> tuple[str, str]:
    """The generations a cached member of this bucket is stale without: its bucket's, and
    the utilities' (hours, idle time: a member is cached with its utility)."""
    return MEMBER_GENERATION.format(bucket), UTILITIES_GENERATION


def signed_in_member(member_id: int) -> Member | None:
    """Return ``member_with_utility(member_id)``, from the cache for a resident."""
    generations = member_generations(member_bucket(member_id))
    key = MEMBER_KEY.format(member_id)
    [(generation, member)] = pagecache.lookup_many([(generations, key, MEMBER_GENERATION_SECONDS)])
    if member is None:
        member = member_with_utility(member_id)
        if member is not None and member.is_resident:  # staff are read afresh each time
            pagecache.store(key, generation, member, MEMBER_SECONDS)
    return member


def connect_member_cache() -> None:
    """Make a cached member stale when its row or any utility's is saved or deleted."""
    from django.db.models.signals import post_delete, post_save

    for signal in (post_save, post_delete):
        signal.connect(_member_changed, sender=Member, dispatch_uid="backends.member_changed")
        signal.connect(_utility_changed, sender=Utility, dispatch_uid="backends.utility_changed")


def _member_changed(sender, instance: Member, update_fields=None, **kwargs) -> None:
    if update_fields == LOGIN_ONLY_FIELDS:
        # Django's stamp at each login: nothing a page or a check reads (the admin reads the
        # row afresh). Moving the generation here made every login drop the member's entry,
        # so its other sessions read the row again at each login (issue 17's login burst).
        return
    bucket = member_bucket(instance.pk)
    pagecache.move_on(MEMBER_GENERATION.format(bucket), MEMBER_GENERATION_SECONDS)


def _utility_changed(sender, **kwargs) -> None:
    pagecache.move_on(UTILITIES_GENERATION)


def member_with_utility(member_id: int) -> Member | None:
    """Return the member and its utility from one query, as ``select_related`` would.

    Every signed-in request runs this. The ORM spent about 1 ms of CPU a request compiling
    the same 70-column join (issue 17's profile: the largest single cost of a signed-in page),
    so the SQL is built once per database and only the member's id is sent each time. The
    row goes through Django's own converters (JSON, dates on SQLite), so the member is the
    one the ORM would have made.
    """
    alias = router.db_for_read(Member)
    sql, converters, split = _member_select(alias)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(sql, [member_id])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, col, funcs in converters:  # only the few columns that have converters
        for convert in funcs:
            values[index] = convert(values[index], col, connection)
    member = Member.from_db(alias, None, values[:split])
    utility = None if member.utility_id is None else Utility.from_db(alias, None, values[split:])
    Member.utility.field.set_cached_value(member, utility)
    return member


@functools.cache
def _member_select(alias: str) -> tuple[str, list, int]:
    """Return get_user's SQL, the columns with converters (and theirs), and where Utility's
    columns start."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    columns = [field.get_col("m") for field in Member._meta.concrete_fields]
    columns += [field.get_col("u") for field in Utility._meta.concrete_fields]
    converters = [
        (index, col, funcs)
        for index, col in enumerate(columns)
        if (funcs := connection.ops.get_db_converters(col) + col.get_db_converters(connection))
    ]
    select = ", ".join(f"{col.alias}.{quote(col.target.column)}" for col in columns)
    utility_key = quote(Member._meta.get_field("utility").column)
    sql = (
        f"SELECT {select} FROM {quote(Member._meta.db_table)} m "
        f"LEFT OUTER JOIN {quote(Utility._meta.db_table)} u ON m.{utility_key} = u.{quote(Utility._meta.pk.column)} "
        f"WHERE m.{quote(Member._meta.pk.column)} = %s"
    )
    return sql, converters, len(Member._meta.concrete_fields)


def lockout_key(utility: Utility | None, identifier: str) -> str:
    """Return the key one identifier's failures are counted under: ``kanazawa:suidotaro``."""
    scope = utility.slug if utility is not None else STAFF_SCOPE
    identifier = normalize.identifier(identifier)
    if len(identifier) > LONGEST_PLAIN_KEY:
        identifier = "sha256:" + hashlib.sha256(identifier.encode()).hexdigest()
    return f"{scope}:{identifier}"


def lockout_scope(key: str) -> str:
    """Return the login a lockout key belongs to: a utility's slug, or ``staff`` (the admin)."""
    return key.partition(":")[0]


def staff_lockout_keys(utility: Utility) -> list[str]:
    """Return the keys the admin logins of this utility's staff are counted under."""
    login_ids = Member.objects.filter(is_staff=True, utility=utility).values_list(
        "login_id", flat=True
    )
    return [lockout_key(None, login_id) for login_id in login_ids]


def member_lockout_key(member: Member) -> str:
    """Return the key a member's own login failures are counted under."""
    if member.is_staff or member.utility is None:
        return lockout_key(None, member.login_id)
    identifier = member.email if member.utility.logs_in_with_email else member.login_id
    return lockout_key(member.utility, identifier)


def axes_username(request: HttpRequest, credentials: dict | None) -> str:
    """AXES_USERNAME_CALLABLE: the lockout key of the credentials being tried."""
    credentials = credentials or {}
    utility = credentials.get("utility")
    return lockout_key(
        utility if isinstance(utility, Utility) else None, str(credentials.get("username") or "")
    )

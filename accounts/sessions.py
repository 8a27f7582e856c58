"""Sessions that carry the signed-in resident: one cache round trip a signed-in page.

SESSION_ENGINE with a shared cache (Redis). A signed-in page used to ask the cache twice
before its view ran: the session, then the member (``backends.signed_in_member``), whose
generation could only be named once the session had said who is signed in (issue 17: a
trivial signed-in page was 59% of /healthz's requests/s against a target of 60%). Here the
member and its utility are kept beside the session's entry, and fetched with it and with the
generations that make them stale, in one ``get_many``:

- the session key names its member's **bucket** (its first two characters: the member's id
  modulo 1,296, set when the key is made at login; the other 30 characters stay random, about
  155 bits), so the generation to read is known before the session is; a member's save or
  delete moves its bucket's generation on (``backends.MEMBER_GENERATION``), at once and again
  at commit, as any save or delete of a utility moves ``UTILITIES_GENERATION``;
- the carried member is used only if it was stored under the generations current now, for
  the same member id and sign-in backend the session holds now, with the session's password
  hash matching (a password changed elsewhere signs this session out, as Django does);
- otherwise, and for staff, the member comes as before (``auth.get_user``: the member cache,
  else one query), and is carried from then on, stamped with the generations read *before*
  it was read: a change committed in between leaves a stamp that never matches.

So a member withdrawn, rejected or given a new password in the admin or by another worker is
signed out on the next page; a change written around the ORM's save (a queryset update, SQL)
is seen within ``MEMBER_SECONDS``, the carried entry's lifetime. Nothing is kept in a worker.
Without a shared cache (``PORTAL_PAGE_CACHE`` off) nothing is carried. A cache that does not
answer: the session comes from the database and the member from ``auth.get_user``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare, get_random_string

from portal import sessions

from . import backends
from .models import Member

CARRIED_KEY = "accounts.carried_member:{}"
BUCKET_CHARACTERS = 2
KEY_LENGTH = 32


def bucket_of_key(session_key: str | None) -> int | None:
    """The member bucket a session key names (None for a key not made of key characters)."""
    if not session_key or len(session_key) < BUCKET_CHARACTERS:
        return None
    bucket = 0
    for character in session_key[:BUCKET_CHARACTERS]:
        position = VALID_KEY_CHARS.find(character)
        if position < 0:
            return None
        bucket = bucket * len(VALID_KEY_CHARS) + position
    return bucket


def key_prefix(member_id: int) -> str:
    """The first characters of a session key for this member: its bucket."""
    bucket, characters = backends.member_bucket(member_id), []
    for _ in range(BUCKET_CHARACTERS):
        bucket, position = divmod(bucket, len(VALID_KEY_CHARS))
        characters.append(VALID_KEY_CHARS[position])
    return "".join(reversed(characters))


class SessionStore(sessions.SessionStore):
    _carried: Member | None = None
    _stamp: tuple | None = None

    def _get_new_session_key(self) -> str:
        """A random key whose first characters name the signed-in member's bucket (if any)."""
        member_id = str((getattr(self, "_session_cache", None) or {}).get(SESSION_KEY, ""))
        if not member_id.isdigit():
            return super()._get_new_session_key()
        prefix = key_prefix(int(member_id))
        return prefix + get_random_string(KEY_LENGTH - len(prefix), VALID_KEY_CHARS)

    def _from_cache(self) -> dict | None:
        """The session's data, and the member carried beside it if still current: one trip."""
        self._carried, self._stamp = None, None
        bucket = bucket_of_key(self.session_key)
        if not settings.PORTAL_PAGE_CACHE or bucket is None:
            return super()._from_cache()
        generations = backends.member_generations(bucket)
        carried_key = CARRIED_KEY.format(self.session_key)
        found = self._cache_call("get_many", [self.cache_key, carried_key, *generations])
        if found is None:
            return None
        stamp = tuple(found.get(key) for key in generations)
        self._stamp = None if None in stamp else stamp  # made by the member's first lookup
        entry = found.get(carried_key)
        if entry is not None and self._stamp is not None and entry[0] == self._stamp:
            self._carried = entry[1]
        return found.get(self.cache_key)

    def carried_member(self) -> Member | None:
        """The member kept with this session, if nothing it was read from changed since."""
        self._get_session()  # loads the session (and the carried member) if not yet loaded
        return self._carried

    def carry(self, member: Member) -> None:
        """Keep ``member`` with this session, under the generations read when it was loaded."""
        if self._stamp is None or bucket_of_key(self.session_key) != backends.member_bucket(
            member.pk
        ):
            return  # not loaded from the cache, or a key made before keys named a bucket
        self._carried = member
        self._cache_call(
            "set",
            CARRIED_KEY.format(self.session_key),
            (self._stamp, member),
            backends.MEMBER_SECONDS,
        )


def signed_in_user(request: HttpRequest):
    """``request.user``: the carried member when it still holds, else Django's ``get_user``."""
    if not hasattr(request, "_cached_user"):
        request._cached_user = _signed_in_user(request)  # type: ignore[attr-defined]
    return request._cached_user  # type: ignore[attr-defined]


def _signed_in_user(request: HttpRequest):
    session = request.session
    if not isinstance(session, SessionStore):
        return auth.get_user(request)
    member = session.carried_member()
    if member is not None and _still_signed_in(session, member):
        return member
    user = auth.get_user(request)  # the member cache or the database; the password hash checked
    if getattr(user, "is_resident", False) and user.is_active:
        session.carry(user)
    return user


def _still_signed_in(session: SessionStore, member: Member) -> bool:
    """What ``auth.get_user`` checks, for a member already in hand."""
    return (
        session.get(SESSION_KEY) == str(member.pk)
        and session.get(BACKEND_SESSION_KEY) in settings.AUTHENTICATION_BACKENDS
        and constant_time_compare(
            session.get(HASH_SESSION_KEY) or "", member.get_session_auth_hash()
        )
    )

"""Sessions in the database, read through the shared cache when there is one.

Django's cached_db store fails the request when the cache cannot be reached on a read
miss, an ``exists`` check or a delete. The database holds every session anyway, so here the
cache is only ever an accelerator: when Redis is down, residents stay signed in and can
still sign in, and the error is logged.

A new session (a login, ``cycle_key``) is written once, at the response, with what the
request put in it: Django's wrote the old data under the new key at once (an existence check,
an INSERT and a cache write) and then the login's data again (an UPDATE and another write),
five statements and two cache writes a login where one INSERT and one write do (issue 17: a
login's own cost competes with pages for the CPU).
"""

from __future__ import annotations

import logging

from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.utils.crypto import get_random_string

logger = logging.getLogger("portal.sessions")


class SessionStore(cached_db.SessionStore):
    def _cache_call(self, name: str, *args):
        try:
            return getattr(self._cache, name)(*args)
        except Exception:  # noqa: BLE001 - any cache failure: fall back to the database
            logger.warning("session cache unavailable (%s)", name, exc_info=True)
            return None

    def load(self) -> dict:
        data = self._from_cache()
        if data is not None:
            return data
        stored = self._get_session_from_db()
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        self._cache_call(
            "set", self.cache_key, data, self.get_expiry_age(expiry=stored.expire_date)
        )
        return data

    def _from_cache(self) -> dict | None:
        """The session's data from the cache (None: not there, or the cache is down)."""
        return self._cache_call("get", self.cache_key)

    def _get_new_session_key(self) -> str:
        # No look-up first: the INSERT of a new session (must_create) refuses a key that is
        # taken, and Django's create() then draws another.
        return get_random_string(32, VALID_KEY_CHARS)

    def cycle_key(self) -> None:
        """Keep the data under a new key, written when the response saves the session.

        As ``flush`` does, the key is dropped and ``save`` creates a new row with a new key;
        the old one is deleted now, so a fixated key is dead whatever the request does next.
        """
        data = self._session
        old_key = self.session_key
        self._session_key = None
        self._session_cache = data
        self.modified = True
        if old_key:
            self.delete(old_key)

    def exists(self, session_key: str) -> bool:
        # The database is the truth: a key is taken if a row has it.
        return bool(session_key) and super(cached_db.SessionStore, self).exists(session_key)

    def save(self, must_create: bool = False) -> None:
        super(cached_db.SessionStore, self).save(must_create)
        self._cache_call("set", self.cache_key, self._session, self.get_expiry_age())

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        # One DELETE (Django's reads the row first, then deletes it in a transaction).
        self.model.objects.filter(session_key=session_key).delete()
        self._cache_call("delete", self.cache_key_prefix + session_key)

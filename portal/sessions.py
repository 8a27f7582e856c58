"""Sessions in the database, read through the shared cache when there is one.

Django's cached_db store fails the request when the cache cannot be reached on a read
miss, an ``exists`` check or a delete. The database holds every session anyway, so here the
cache is only ever an accelerator: when Redis is down, residents stay signed in and can
still sign in, and the error is logged.
"""

from __future__ import annotations

import logging

from django.contrib.sessions.backends import cached_db

logger = logging.getLogger("portal.sessions")


class SessionStore(cached_db.SessionStore):
    def _cache_call(self, name: str, *args):
        try:
            return getattr(self._cache, name)(*args)
        except Exception:  # noqa: BLE001 - any cache failure: fall back to the database
            logger.warning("session cache unavailable (%s)", name, exc_info=True)
            return None

    def load(self) -> dict:
        data = self._cache_call("get", self.cache_key)
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

    def exists(self, session_key: str) -> bool:
        # The database is the truth: a key is taken if a row has it.
        return bool(session_key) and super(cached_db.SessionStore, self).exists(session_key)

    def save(self, must_create: bool = False) -> None:
        super(cached_db.SessionStore, self).save(must_create)
        self._cache_call("set", self.cache_key, self._session, self.get_expiry_age())

    def delete(self, session_key: str | None = None) -> None:
        super(cached_db.SessionStore, self).delete(session_key)
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        self._cache_call("delete", self.cache_key_prefix + session_key)

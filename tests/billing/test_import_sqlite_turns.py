"""Two imports at once on SQLite (issue 16, F5): the second waits for the first, never
「database is locked」; a dry run's 「この内容で取り込む」 pressed twice starts one import."""

from __future__ import annotations

import threading

from django.conf import settings
from django.db import connections, transaction


def _read_then_write(alias: str, read: threading.Event, other_read: threading.Event, out: list):
    """What an import does: read in its transaction, then write (a replaced reading's delete)."""
    try:
        with transaction.atomic(using=alias):
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT n FROM counter")
                (n,) = cursor.fetchone()
                read.set()
                # The other import reads now too (unless the first holds the write lock from its
                # start, as it should: then it waits and this returns after the bound).
                other_read.wait(2)
                cursor.execute("UPDATE counter SET n = %s", [n + 1])
        out.append("ok")
    except Exception as exc:  # noqa: BLE001 - the failure is what the test reports
        out.append(f"{type(exc).__name__}: {exc}")
    finally:
        connections[alias].close()


def test_two_writing_transactions_on_sqlite_take_turns_instead_of_failing(
    tmp_path, django_db_blocker
):
    """Configured as the portal configures SQLite, the second read-then-write transaction
    waits for the first and sees its write (both succeed, no update lost)."""
    sqlite = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(tmp_path / "turns.sqlite3"),
        "OPTIONS": dict(settings.SQLITE_OPTIONS),
    }
    alias = "sqlite_turns"
    connections.settings[alias] = connections.configure_settings(
        {"default": sqlite, alias: sqlite}
    )[alias]
    with django_db_blocker.unblock():
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("CREATE TABLE counter (n integer)")
                cursor.execute("INSERT INTO counter VALUES (0)")
            connections[alias].close()
            a_read, b_read, out = threading.Event(), threading.Event(), []
            first = threading.Thread(target=_read_then_write, args=(alias, a_read, b_read, out))
            first.start()
            a_read.wait(10)
            second = threading.Thread(target=_read_then_write, args=(alias, b_read, a_read, out))
            second.start()
            first.join()
            second.join()
            assert out == ["ok", "ok"]
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT n FROM counter")
                assert cursor.fetchone() == (2,)
        finally:
            connections[alias].close()
            del connections.settings[alias]

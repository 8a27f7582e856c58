"""Faults a city will meet: the database dropping connections between requests."""

from __future__ import annotations

from http import HTTPStatus

from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from tests.factories import ContractLinkFactory, MemberFactory, UtilityFactory

from .conftest import csrf_ready


def _terminate_server_connections() -> int:
    """Kill every other backend on the test database, as a failover or a restart would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_next_request_works_after_the_database_drops_every_connection(machines, browser):
    utility = UtilityFactory()
    member = MemberFactory(utility=utility, login_id="faults01")
    hasher = PBKDF2PasswordHasher()
    member.password = hasher.encode("suido2026", hasher.salt())
    member.save(update_fields=["password"])
    ContractLinkFactory(member=member)
    server = machines[0]
    login = f"{server.url}/{utility.slug}/"
    csrf_ready(browser, login)
    status, _ = browser.post(
        login, {"identifier": "faults01", "password": "suido2026"}, referer=login
    )
    assert status == HTTPStatus.FOUND
    # Persistent connections are open now (CONN_MAX_AGE); the database drops them all.
    assert _terminate_server_connections() >= 1
    for _ in range(4):  # every worker notices its dead connection and reconnects
        status, html = browser.get(f"{server.url}/{utility.slug}/usage/")
        assert status == HTTPStatus.OK, html[:300]

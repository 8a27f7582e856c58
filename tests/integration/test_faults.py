"""Faults a city will meet: the database dropping connections between requests."""

from __future__ import annotations

import urllib.error
import urllib.request
from http import HTTPStatus

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from tests.factories import ContractLinkFactory, MemberFactory, UtilityFactory

from .conftest import Browser, _database_url, csrf_ready, start_machines, stop_machines


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


# A machine whose database and cache are gone ------------------------------------------------

DEAD_DATABASE = "postgres://postgres@127.0.0.1:1/nowhere"
DEAD_REDIS = "redis://127.0.0.1:1/0"


def _fetch(url: str) -> tuple[int, dict, str]:
    request = urllib.request.Request(url, headers={"X-Request-ID": "balancer-id-0001"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_with_database_and_cache_down_healthz_names_both_and_pages_log_their_traceback(
    static_root,
):
    (machine,) = start_machines(static_root, 1, DATABASE_URL=DEAD_DATABASE, CACHE_URL=DEAD_REDIS)
    try:
        status, _headers, body = _fetch(f"{machine.url}/healthz")
        assert status == HTTPStatus.SERVICE_UNAVAILABLE
        assert "database: unavailable" in body and "cache: unavailable" in body
        status, headers, body = _fetch(f"{machine.url}/kanazawa/")
        assert status == HTTPStatus.INTERNAL_SERVER_ERROR
        assert headers["X-Request-ID"] == "balancer-id-0001"
        assert "balancer-id-0001" in body  # the number a resident can quote
        assert "ただいま表示できません" in body
    finally:
        stop_machines([machine])
    log = machine.process.stderr.read().decode()
    (page_error,) = [
        line
        for line in log.splitlines()
        if "ERROR django.request" in line and "Internal Server Error: /kanazawa/" in line
    ]
    assert "request_id=balancer-id-0001" in page_error
    assert "Traceback (most recent call last)" in log


def test_with_redis_down_residents_still_log_in_and_mail_forms_say_so(
    transactional_db, static_root
):
    if connection.vendor != "postgresql":
        pytest.skip("needs the test database shared with gunicorn: CI runs this on PostgreSQL")
    utility = UtilityFactory(slug="kanazawa")
    member = MemberFactory(utility=utility, login_id="faults02")
    hasher = PBKDF2PasswordHasher()
    member.password = hasher.encode("suido2026", hasher.salt())
    member.save(update_fields=["password"])
    ContractLinkFactory(member=member)
    (server,) = start_machines(static_root, 1, DATABASE_URL=_database_url(), CACHE_URL=DEAD_REDIS)
    try:
        status, body = _fetch(f"{server.url}/healthz")[::2]
        assert status == HTTPStatus.SERVICE_UNAVAILABLE and "cache: unavailable" in body
        browser = Browser()
        login = f"{server.url}/kanazawa/"
        csrf_ready(browser, login)
        status, _ = browser.post(
            login, {"identifier": "faults02", "password": "suido2026"}, referer=login
        )
        assert status == HTTPStatus.FOUND
        status, html = browser.get(f"{server.url}/kanazawa/usage/")
        assert status == HTTPStatus.OK, html[:300]
        signup = f"{server.url}/kanazawa/signup/"
        csrf_ready(browser, signup)
        email = "outage@example.jp"
        status, html = browser.post(
            signup,
            {"email": email, "email_confirm": email, "agree_terms": "on"},
            referer=signup,
        )
        assert status == HTTPStatus.SERVICE_UNAVAILABLE
        assert "ただいまお手続きを受け付けられません" in html
    finally:
        stop_machines([server])

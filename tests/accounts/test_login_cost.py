"""What one login POST asks of the database, outside its password hash (issue 17).

A login burst must not starve pages: every statement a login sends is CPU in the worker
(compiling, sending, reading) and in the database, at the same priority as the pages, while
the hash itself runs in a lower-priority thread (accounts/hashers.py). These tests hold the
statements of a successful login to those it needs, and that what they replaced still holds:
the identifier's failures and expired attempts go, the session is a new one with the login in
it, a failed mail is told once.
"""

from __future__ import annotations

import datetime
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.backends import member_lockout_key
from portal.models import OutboxMail
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared_sessions(settings):
    """Sessions as production keeps them with Redis (portal.sessions; here the test cache)."""
    settings.SESSION_ENGINE = "portal.sessions"


def log_in(browser: Client, member) -> tuple:
    with CaptureQueriesContext(connection) as queries:
        response = browser.post(
            reverse("accounts:login", args=[member.utility.slug]),
            {"identifier": member.login_id, "password": PASSWORD},
        )
    assert response.status_code == HTTPStatus.FOUND
    return response, [q["sql"] for q in queries.captured_queries]


def statements(queries: list[str], table: str, verb: str) -> list[str]:
    return [q for q in queries if table in q and q.lstrip().upper().startswith(verb)]


def test_a_login_writes_its_new_session_once(client, user, shared_sessions):
    response, queries = log_in(client, user)
    assert len(statements(queries, "django_session", "INSERT")) == 1
    assert statements(queries, "django_session", "UPDATE") == []
    # a new key needs no look-up first: the INSERT refuses a key that is taken
    assert statements(queries, "django_session", "SELECT") == []
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get(reverse("billing:dashboard", args=[user.utility.slug])).status_code == 200


def test_a_login_replaces_the_session_it_came_with(client, user, shared_sessions):
    session = client.session
    session["before_login"] = "kept"
    session.save()
    old_key = session.session_key
    log_in(client, user)
    assert client.cookies["sessionid"].value != old_key
    assert client.session["before_login"] == "kept"
    assert not client.session.exists(old_key)


def test_a_login_reads_the_utility_once(client, user):
    _, queries = log_in(client, user)
    assert len(statements(queries, "portal_utility", "SELECT")) == 1


def test_a_login_asks_once_about_failed_mails_when_there_are_none(client, user):
    _, queries = log_in(client, user)
    assert len([q for q in queries if "portal_outboxmail" in q]) == 1


def test_a_failed_mail_is_still_told_once(client, user):
    OutboxMail.objects.create(
        utility=user.utility,
        member=user,
        recipient=user.email,
        template="accounts/mail/example",
        key="failed-once",
        subject="お知らせ",
        status=OutboxMail.Status.FAILED,
        last_error="550 5.1.1 user unknown",
    )
    response = client.post(
        reverse("accounts:login", args=[user.utility.slug]),
        {"identifier": user.login_id, "password": PASSWORD},
        follow=True,
    )
    assert "お届けできませんでした" in response.content.decode()
    client.post(reverse("accounts:logout", args=[user.utility.slug]))
    response = client.post(
        reverse("accounts:login", args=[user.utility.slug]),
        {"identifier": user.login_id, "password": PASSWORD},
        follow=True,
    )
    assert "お届けできませんでした" not in response.content.decode()


def test_a_login_clears_failures_and_expired_attempts_in_one_statement(client, user, settings):
    now = timezone.now()
    key = member_lockout_key(user)
    AccessAttempt.objects.create(username=key, ip_address="10.0.0.9", failures_since_start=2)
    other = AccessAttempt.objects.create(
        username=f"{user.utility.slug}:someone-else", ip_address="10.0.0.9", failures_since_start=1
    )
    long_ago = AccessAttempt.objects.create(
        username=f"{user.utility.slug}:long-ago", ip_address="10.0.0.8", failures_since_start=4
    )
    AccessAttempt.objects.filter(pk=long_ago.pk).update(  # attempt_time is set on create
        attempt_time=now - datetime.timedelta(hours=settings.AXES_COOLOFF_TIME, minutes=1)
    )
    _, queries = log_in(client, user)
    assert list(AccessAttempt.objects.all()) == [other]
    assert len(statements(queries, 'axes_accessattempt" WHERE', "DELETE")) == 1


def test_with_no_attempts_to_clear_a_login_reads_the_attempts_twice(client, user):
    # the lock (both keys at once) and one look for what to clear
    _, queries = log_in(client, user)
    assert len([q for q in queries if "axes_accessattempt" in q]) == 2

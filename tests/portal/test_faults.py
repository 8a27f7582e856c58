"""Faults degrade, never 500: a cache or database gone, and every response traceable."""

from __future__ import annotations

import io
import logging
from http import HTTPStatus

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from accounts.models import EmailChallenge
from tests.conftest import PASSWORD
from tests.factories import UtilityFactory

pytestmark = pytest.mark.django_db

DEAD_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


@pytest.fixture
def redis_down(settings):
    settings.CACHES = DEAD_REDIS
    settings.SESSION_ENGINE = "portal.sessions"
    settings.PORTAL_SHARED_CACHE = True


@pytest.fixture(autouse=True)
def _clear_cache():
    """Override tests/conftest.py's: there is no cache to clear here."""
    yield


def test_with_redis_down_a_resident_logs_in_and_sees_the_dashboard(redis_down, user):
    browser = Client()
    response = browser.post(
        reverse("accounts:login", args=[user.utility.slug]),
        {"identifier": user.login_id, "password": PASSWORD},
    )
    assert response.status_code == HTTPStatus.FOUND
    assert browser.get(reverse("billing:dashboard", args=[user.utility.slug])).status_code == 200
    browser.post(reverse("accounts:logout", args=[user.utility.slug]))
    response = browser.get(reverse("billing:dashboard", args=[user.utility.slug]))
    assert response.status_code == HTTPStatus.FOUND  # signed out for real


def test_with_redis_down_mail_forms_answer_a_japanese_503_and_send_nothing(redis_down, mailoutbox):
    kanazawa, nayoro = UtilityFactory(), UtilityFactory(code_style=True)
    email = "outage@example.jp"
    answers = [
        Client().post(
            reverse("accounts:signup", args=[kanazawa.slug]),
            {"email": email, "email_confirm": email, "agree_terms": "on"},
        ),
        Client().post(reverse("accounts:signup", args=[nayoro.slug]), {"email": email}),
        Client().post(reverse("accounts:recovery", args=[nayoro.slug]), {"email": email}),
    ]
    for response in answers:
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert "ただいまお手続きを受け付けられません" in response.content.decode()
        assert response["Retry-After"]
    assert mailoutbox == []
    assert not EmailChallenge.objects.exists()


def test_healthz_names_a_dead_cache(redis_down, client):
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "cache: unavailable" in response.content.decode()


def test_healthz_names_a_dead_database(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("portal.views.connection.cursor", refuse)
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.content.decode() == "database: unavailable"


def test_healthz_is_ok_when_all_answer(client):
    response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok")


def test_every_response_carries_a_request_id_and_keeps_a_sane_one_given(client):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert len(first["X-Request-ID"]) == 32 and first["X-Request-ID"] != second["X-Request-ID"]
    assert client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234abcd")["X-Request-ID"] == "lb-1234abcd"
    forged = client.get("/healthz", HTTP_X_REQUEST_ID="x\nrequest_id=evil")["X-Request-ID"]
    assert "evil" not in forged


def test_a_500_shows_the_request_id_and_logs_its_traceback(utility, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the database lost its mind")

    handlers = logging.getLogger("django.request").handlers
    console = next(h for h in handlers if h.name == "console")  # settings.LOGGING's stderr
    stderr = io.StringIO()
    monkeypatch.setattr(console, "stream", stderr)

    monkeypatch.setattr("portal.views.render", broken)
    browser = Client(raise_request_exception=False)
    response = browser.get(
        reverse("portal:terms", args=[utility.slug]), HTTP_X_REQUEST_ID="resident-call-42"
    )
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert "resident-call-42" in response.content.decode()
    logged = stderr.getvalue()
    assert "ERROR django.request request_id=resident-call-42 Internal Server Error" in logged
    assert "RuntimeError: the database lost its mind" in logged


def test_expected_503s_are_not_logged_as_server_errors(redis_down, monkeypatch):
    import datetime

    handlers = logging.getLogger("django.request").handlers
    console = next(h for h in handlers if h.name == "console")
    stderr = io.StringIO()
    monkeypatch.setattr(console, "stream", stderr)
    closed = UtilityFactory(opens_at=datetime.time(0, 0), closes_at=datetime.time(0, 1))
    nayoro = UtilityFactory(code_style=True)
    client = Client()
    with monkeypatch.context() as m:
        m.setattr(type(closed), "is_open_at", lambda self, moment: False)
        assert client.get(reverse("accounts:login", args=[closed.slug])).status_code == 503
    response = client.post(reverse("accounts:signup", args=[nayoro.slug]), {"email": "a@b.jp"})
    assert response.status_code == 503
    assert client.get("/healthz").status_code == 503
    assert "ERROR django.request" not in stderr.getvalue()

"""The signed-in member carried with the session (accounts.sessions), as production runs it.

A signed-in page reads the session, the member and what would make the member stale in one
cache call; every way a member or utility changes still reaches the next page.
"""

from __future__ import annotations

import datetime
from http import HTTPStatus

import pytest
from django.contrib.sessions.models import Session
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.backends import MEMBER_SECONDS
from accounts.models import Member
from accounts.sessions import key_prefix
from tests.accounts.test_signed_in_member import withdraw_in_the_admin
from tests.conftest import PASSWORD
from tests.factories import ContractLinkFactory, MemberFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def shared_sessions(settings):
    """Sessions as production keeps them with Redis (here the test process's cache)."""
    settings.SESSION_ENGINE = "accounts.sessions"


@pytest.fixture
def cache_reads(monkeypatch):
    """Count the reads sent to the cache: each get or get_many is one round trip to Redis
    (the test cache's get_many calls its own get for each key: those are not counted)."""
    reads, inside = [], []
    for name in ("get", "get_many"):
        original = getattr(LocMemCache, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            if not inside:
                reads.append(_name)
            inside.append(_name)
            try:
                return _original(self, *args, **kwargs)
            finally:
                inside.pop()

        monkeypatch.setattr(LocMemCache, name, counted)
    return reads


def log_in(browser: Client, member) -> None:
    response = browser.post(
        reverse("accounts:login", args=[member.utility.slug]),
        {"identifier": member.login_id, "password": PASSWORD},
    )
    assert response.status_code == HTTPStatus.FOUND


@pytest.fixture
def signed_in(client, user):
    log_in(client, user)
    return client


def trivial_page(utility) -> str:
    return reverse("accounts:profile_email_sent", args=[utility.slug])


def dashboard(utility) -> str:
    return reverse("billing:dashboard", args=[utility.slug])


def test_a_signed_in_page_reads_the_cache_once_and_the_database_never(
    signed_in, user, utility, cache_reads
):
    url = trivial_page(utility)
    assert signed_in.get(url).status_code == HTTPStatus.OK  # reads the member, carries it
    cache_reads.clear()
    with CaptureQueriesContext(connection) as queries:
        assert signed_in.get(url).status_code == HTTPStatus.OK
    assert cache_reads == ["get_many"], cache_reads
    assert len(queries) == 0


def test_the_session_key_names_the_members_bucket(signed_in, user):
    assert signed_in.cookies["sessionid"].value.startswith(key_prefix(user.pk))
    assert len(signed_in.cookies["sessionid"].value) == 32


def test_a_member_withdrawn_in_the_admin_is_signed_out_on_the_next_page(signed_in, user, utility):
    url = dashboard(utility)
    assert signed_in.get(url).status_code == HTTPStatus.OK
    assert signed_in.get(url).status_code == HTTPStatus.OK  # the carried member
    withdraw_in_the_admin(user)
    response = signed_in.get(url)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("accounts:login", args=[utility.slug]))


def test_a_member_saved_by_another_worker_is_read_afresh(signed_in, user, utility):
    url = dashboard(utility)
    assert signed_in.get(url).status_code == HTTPStatus.OK
    assert signed_in.get(url).status_code == HTTPStatus.OK
    other = Member.objects.get(pk=user.pk)  # as another worker loads and saves its own
    other.status = Member.Status.REJECTED
    other.save()
    assert signed_in.get(url).status_code == HTTPStatus.FOUND


def test_a_member_changed_around_save_is_read_again_within_a_minute(
    signed_in, user, utility, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    url = dashboard(utility)
    assert signed_in.get(url).status_code == HTTPStatus.OK
    assert signed_in.get(url).status_code == HTTPStatus.OK
    Member.objects.filter(pk=user.pk).update(status=Member.Status.WITHDRAWN)
    time_machine.shift(MEMBER_SECONDS + 1)
    assert signed_in.get(url).status_code == HTTPStatus.FOUND


def test_a_utility_closed_in_the_admin_closes_the_next_page(signed_in, user, utility):
    url = dashboard(utility)
    assert signed_in.get(url).status_code == HTTPStatus.OK
    assert signed_in.get(url).status_code == HTTPStatus.OK
    now = timezone.localtime()
    utility.opens_at = (now + datetime.timedelta(hours=1)).time()
    utility.closes_at = (now + datetime.timedelta(hours=2)).time()
    utility.save()
    assert signed_in.get(url).status_code == HTTPStatus.SERVICE_UNAVAILABLE


def test_a_password_change_signs_the_other_sessions_out(signed_in, user, utility):
    url = dashboard(utility)
    assert signed_in.get(url).status_code == HTTPStatus.OK
    assert signed_in.get(url).status_code == HTTPStatus.OK
    phone = Client()
    log_in(phone, user)
    response = phone.post(
        reverse("accounts:profile_password", args=[utility.slug]),
        {
            "current_password": PASSWORD,
            "password": "mizu2027new",
            "password_confirm": "mizu2027new",
        },
    )
    assert response.status_code == HTTPStatus.FOUND, response.content.decode()[:2000]
    assert phone.get(url).status_code == HTTPStatus.OK  # the session that changed it stays
    assert signed_in.get(url).status_code == HTTPStatus.FOUND


def test_idle_sign_out_holds(signed_in, user, utility, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    url = dashboard(utility)
    assert signed_in.get(url).status_code == HTTPStatus.OK
    time_machine.shift(datetime.timedelta(minutes=utility.session_idle_minutes, seconds=61))
    response = signed_in.get(url, follow=True)
    assert "一定の時間操作がなかったため" in response.content.decode()


def test_another_members_session_never_gets_this_member(signed_in, user, utility):
    # Two members in the same bucket: each session carries its own.
    neighbour = MemberFactory(utility=utility, pk=user.pk + 36 * 36)
    ContractLinkFactory(member=neighbour)
    other = Client()
    log_in(other, neighbour)
    for _ in range(2):
        assert signed_in.get(dashboard(utility)).context["user"] == user
        assert other.get(dashboard(utility)).context["user"] == neighbour


def test_a_session_key_of_another_bucket_still_signs_in(client, user, utility):
    # A key made before keys named a bucket: the member comes as before, on every page.
    client.force_login(user)
    row = Session.objects.get(session_key=client.cookies["sessionid"].value)
    other_bucket = "zz" if key_prefix(user.pk) != "zz" else "yy"
    old_key = other_bucket + row.session_key[2:]
    Session.objects.create(
        session_key=old_key, session_data=row.session_data, expire_date=row.expire_date
    )
    client.cookies["sessionid"] = old_key
    for _ in range(2):
        response = client.get(dashboard(utility))
        assert response.status_code == HTTPStatus.OK
        assert response.context["user"] == user


def test_staff_are_not_carried(client, utility):
    staff = StaffFactory(utility=utility, is_superuser=True)
    client.force_login(staff)
    admin = reverse("admin:index")
    assert client.get(admin).status_code == HTTPStatus.OK
    with CaptureQueriesContext(connection) as queries:
        assert client.get(admin).status_code == HTTPStatus.OK
    assert [q for q in queries.captured_queries if "accounts_member" in q["sql"]]

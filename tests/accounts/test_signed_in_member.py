"""The member a signed-in request carries is the one in the database, utility and all.

accounts.backends loads it with one precompiled query instead of the ORM's (issue 17); these
tests hold that shortcut to what ``select_related("utility")`` returns.
"""

from __future__ import annotations

import datetime
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.backends import MEMBER_SECONDS, MemberBackend
from accounts.models import Member
from tests.conftest import PASSWORD
from tests.factories import MemberFactory, StaffFactory

pytestmark = pytest.mark.django_db


def field_values(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_the_member_and_utility_are_those_the_orm_loads(utility):
    member = MemberFactory(
        utility=utility,
        signup_match={"number": True, "phone": False, "typed": {"name": "水道 太郎"}},
        last_login=timezone.now() - datetime.timedelta(days=3),
    )
    expected = Member.objects.select_related("utility").get(pk=member.pk)
    with CaptureQueriesContext(connection) as queries:
        loaded = MemberBackend().get_user(member.pk)
        utility_values = field_values(loaded.utility)
    assert len(queries) == 1
    assert field_values(loaded) == field_values(expected)
    assert utility_values == field_values(expected.utility)
    assert loaded.signup_match["typed"]["name"] == "水道 太郎"
    assert timezone.is_aware(loaded.last_login)
    assert loaded.utility.opens_at == expected.utility.opens_at


def test_staff_without_a_utility_load_too(db):
    staff = StaffFactory(utility=None, is_superuser=True)
    loaded = MemberBackend().get_user(staff.pk)
    assert loaded == staff and loaded.utility is None


def test_unknown_and_inactive_members_are_nobody(utility):
    withdrawn = MemberFactory(utility=utility, status=Member.Status.WITHDRAWN)
    assert MemberBackend().get_user(withdrawn.pk) is None
    assert MemberBackend().get_user(withdrawn.pk + 1000) is None


def withdraw_in_the_admin(member) -> None:
    """What staff do: the member's admin page, 状態 set to 退会, 保存."""
    staff = StaffFactory(utility=member.utility)
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="accounts", codename__in=["view_member", "change_member"]
        )
    )
    admin = Client()
    admin.force_login(staff)
    change_url = reverse("admin:accounts_member_change", args=[member.pk])
    form = admin.get(change_url).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields if name != "groups"}
    data.update(
        {
            "status": Member.Status.WITHDRAWN,
            "contract_links-TOTAL_FORMS": "0",
            "contract_links-INITIAL_FORMS": "0",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        }
    )
    saved = admin.post(change_url, data)
    assert saved.status_code == HTTPStatus.FOUND, saved.context["adminform"].form.errors


def test_a_member_withdrawn_in_the_admin_is_signed_out_on_the_next_page(
    logged_in_client, user, utility
):
    # The member is kept in the cache between requests (accounts.backends.signed_in_member):
    # the admin's save makes it stale at once.
    url = reverse("billing:dashboard", args=[utility.slug])
    assert logged_in_client.get(url).status_code == HTTPStatus.OK
    assert logged_in_client.get(url).status_code == HTTPStatus.OK  # the member from the cache
    withdraw_in_the_admin(user)
    response = logged_in_client.get(url)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("accounts:login", args=[utility.slug]))


def test_a_member_saved_anywhere_is_read_afresh_on_the_next_page(logged_in_client, user, utility):
    url = reverse("billing:dashboard", args=[utility.slug])
    assert logged_in_client.get(url).status_code == HTTPStatus.OK
    user.status = Member.Status.REJECTED
    user.save()
    assert logged_in_client.get(url).status_code == HTTPStatus.FOUND


def test_a_utility_closed_in_the_admin_closes_the_next_page(logged_in_client, user, utility):
    url = reverse("billing:dashboard", args=[utility.slug])
    assert logged_in_client.get(url).status_code == HTTPStatus.OK
    now = timezone.localtime()
    utility.opens_at = (now + datetime.timedelta(hours=1)).time()
    utility.closes_at = (now + datetime.timedelta(hours=2)).time()
    utility.save()
    assert logged_in_client.get(url).status_code == HTTPStatus.SERVICE_UNAVAILABLE


def test_a_member_changed_around_save_is_read_again_within_a_minute(
    logged_in_client, user, utility, time_machine
):
    # A queryset update (or SQL) sends no signal: the cached member lasts MEMBER_SECONDS.
    time_machine.move_to(timezone.now(), tick=False)
    url = reverse("billing:dashboard", args=[utility.slug])
    assert logged_in_client.get(url).status_code == HTTPStatus.OK
    Member.objects.filter(pk=user.pk).update(status=Member.Status.WITHDRAWN)
    time_machine.shift(MEMBER_SECONDS + 1)
    assert logged_in_client.get(url).status_code == HTTPStatus.FOUND


def test_staff_are_read_from_the_database_each_time(utility):
    staff = StaffFactory(utility=utility)
    MemberBackend().get_user(staff.pk)
    with CaptureQueriesContext(connection) as queries:
        MemberBackend().get_user(staff.pk)
    assert len(queries) == 1


def test_without_a_shared_cache_the_member_is_read_every_time(utility, settings):
    # Each process's own memory would keep a member withdrawn in another process (README).
    settings.PORTAL_PAGE_CACHE = False
    member = MemberFactory(utility=utility)
    MemberBackend().get_user(member.pk)
    with CaptureQueriesContext(connection) as queries:
        assert MemberBackend().get_user(member.pk) == member
    assert len(queries) == 1


def test_with_a_shared_cache_the_member_is_read_once(utility):
    member = MemberFactory(utility=utility)
    MemberBackend().get_user(member.pk)
    with CaptureQueriesContext(connection) as queries:
        assert MemberBackend().get_user(member.pk) == member
    assert len(queries) == 0


def test_a_login_elsewhere_leaves_the_cached_member_standing(logged_in_client, user, utility):
    # A login only stamps last_login, which no page reads: the member's other sessions keep
    # the cached row (in a login burst they read it again at each login).
    url = reverse("billing:dashboard", args=[utility.slug])
    assert logged_in_client.get(url).status_code == HTTPStatus.OK
    other = Client()
    response = other.post(
        reverse("accounts:login", args=[utility.slug]),
        {"identifier": user.login_id, "password": PASSWORD},
    )
    assert response.status_code == HTTPStatus.FOUND
    with CaptureQueriesContext(connection) as queries:
        assert logged_in_client.get(url).status_code == HTTPStatus.OK
    assert not [q for q in queries.captured_queries if "accounts_member" in q["sql"]]


def test_a_password_rehashed_at_login_is_read_afresh(logged_in_client, user, utility, settings):
    # The login that rehashes saves the password: the cached row (with the old hash, which
    # the session's check compares) must go, or the new session would be signed out.
    url = reverse("billing:dashboard", args=[utility.slug])
    assert logged_in_client.get(url).status_code == HTTPStatus.OK
    user.set_password("another-2026")
    user.save(update_fields=["password", "last_login"])
    with CaptureQueriesContext(connection) as queries:
        logged_in_client.get(url)
    assert [q for q in queries.captured_queries if "accounts_member" in q["sql"]]

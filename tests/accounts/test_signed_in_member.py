"""The member a signed-in request carries is the one in the database, utility and all.

accounts.backends loads it with one precompiled query instead of the ORM's (issue 17); these
tests hold that shortcut to what ``select_related("utility")`` returns.
"""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.backends import MemberBackend
from accounts.models import Member
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


def test_a_withdrawn_member_is_signed_out_on_the_next_page(logged_in_client, user, utility):
    url = reverse("billing:dashboard", args=[utility.slug])
    assert logged_in_client.get(url).status_code == 200
    Member.objects.filter(pk=user.pk).update(status=Member.Status.WITHDRAWN)
    response = logged_in_client.get(url)
    assert response.status_code == 302

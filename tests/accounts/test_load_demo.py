"""`manage.py load_demo`: the demo residents README lists, as a real signup would leave them."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.models import Member, MemberEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("loaddata", "utilities", verbosity=0)
    call_command("load_demo", verbosity=0)


def test_the_demo_applicant_waits_with_match_evidence_like_a_real_one(demo):
    applicant = Member.objects.get(login_id="shinsei01")
    assert applicant.status == Member.Status.PENDING
    match = applicant.signup_match
    assert match["customer_id"] is not None
    assert {"number", "name", "phone", "address"} <= set(match)
    assert MemberEvent.objects.filter(member=applicant, action="signup").exists()


def test_load_demo_twice_changes_nothing(demo):
    before = (Member.objects.count(), MemberEvent.objects.count())
    call_command("load_demo", verbosity=0)
    assert (Member.objects.count(), MemberEvent.objects.count()) == before


def test_create_staff_group_gives_staff_the_lockout_list(client):
    from django.contrib.auth.models import Group
    from django.urls import reverse

    from tests.factories import StaffFactory

    call_command("create_staff_group", verbosity=0)
    call_command("create_staff_group", verbosity=0)  # again, as after an upgrade
    staff = StaffFactory()
    staff.groups.add(Group.objects.get(name="事業者職員"))
    client.force_login(staff)
    index = client.get(reverse("admin:index")).content.decode()
    assert "ログイン試行" in index
    assert staff.has_perm("accounts.delete_loginlock")

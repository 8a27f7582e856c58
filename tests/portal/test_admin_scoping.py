from __future__ import annotations

import os
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Member
from billing.models import Customer
from tests.factories import (
    CustomerFactory,
    MemberFactory,
    MeterReadingFactory,
    StaffFactory,
    UtilityFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_cities():
    kanazawa, nayoro = UtilityFactory(), UtilityFactory(code_style=True)
    return kanazawa, nayoro


@pytest.fixture
def staff_client(client, two_cities):
    kanazawa, _ = two_cities
    staff = StaffFactory(utility=kanazawa)
    staff.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["accounts", "billing", "portal"],
            codename__regex=r"^(view|change|add)_",
        )
    )
    client.force_login(staff)
    return client


def test_staff_list_shows_only_their_utilitys_customers(staff_client, two_cities):
    kanazawa, nayoro = two_cities
    CustomerFactory(utility=kanazawa, name="金沢 一郎")
    CustomerFactory(utility=nayoro, name="名寄 花子")
    response = staff_client.get(reverse("admin:billing_customer_changelist"))
    assertContains(response, "金沢 一郎")
    assertNotContains(response, "名寄 花子")


def test_staff_search_does_not_reach_another_utility(staff_client, two_cities):
    _, nayoro = two_cities
    CustomerFactory(utility=nayoro, name="名寄 花子", number="20000000009")
    response = staff_client.get(reverse("admin:billing_customer_changelist"), {"q": "20000000009"})
    assertNotContains(response, "名寄 花子")


def test_staff_cannot_open_another_utilitys_rows(staff_client, two_cities):
    _, nayoro = two_cities
    theirs = CustomerFactory(utility=nayoro)
    member = MemberFactory(utility=nayoro)
    reading = MeterReadingFactory(customer=theirs)
    for url in [
        reverse("admin:billing_customer_change", args=[theirs.pk]),
        reverse("admin:accounts_member_change", args=[member.pk]),
        reverse("admin:billing_meterreading_change", args=[reading.pk]),
        reverse("admin:portal_utility_change", args=[nayoro.pk]),
    ]:
        response = staff_client.get(url)
        assert response.status_code == HTTPStatus.FOUND  # "not found" redirect to the index
        assert response["Location"] == reverse("admin:index")


def test_foreign_key_choices_are_scoped(staff_client, two_cities):
    kanazawa, nayoro = two_cities
    ours = CustomerFactory(utility=kanazawa)
    theirs = CustomerFactory(utility=nayoro)
    response = staff_client.get(reverse("admin:billing_customer_add"))
    assertContains(response, kanazawa.portal_name)
    assertNotContains(response, nayoro.portal_name)
    # A reading may not be attached to another utility's contract, even by typing its id.
    response = staff_client.post(
        reverse("admin:billing_meterreading_add"),
        {
            "customer": theirs.pk,
            "period_start": "2025-03-26",
            "period_end": "2025-05-25",
            "read_on": "2025-05-25",
            "previous_index": 55,
            "current_index": 75,
            "usage_m3": 20,
            "water_charge": 3000,
            "sewer_charge": 2000,
            "tax": 454,
            "total": 5000,
        },
    )
    assert response.status_code == HTTPStatus.OK
    assert not theirs.readings.exists()
    assert ours.readings.count() == 0


def test_a_row_created_by_staff_belongs_to_their_utility(staff_client, two_cities):
    kanazawa, nayoro = two_cities
    response = staff_client.post(
        reverse("admin:billing_customer_add"),
        {
            "utility": nayoro.pk,
            "number": "12345678901234",
            "name": "新規 契約",
            "meter_diameter_mm": 20,
        },
    )
    assert response.status_code in (HTTPStatus.OK, HTTPStatus.FOUND)
    assert not Customer.objects.filter(utility=nayoro).exists()


def test_superuser_sees_every_utility(admin_client, two_cities):
    kanazawa, nayoro = two_cities
    CustomerFactory(utility=kanazawa, name="金沢 一郎")
    CustomerFactory(utility=nayoro, name="名寄 花子")
    response = admin_client.get(reverse("admin:billing_customer_changelist"))
    assertContains(response, "金沢 一郎")
    assertContains(response, "名寄 花子")


def test_staff_log_into_the_admin_with_their_login_id(client, two_cities):
    kanazawa, _ = two_cities
    StaffFactory(utility=kanazawa, login_id="kanazawa-staff", password="Staff-Pass-2026")
    response = client.post(
        reverse("admin:login"),
        {"username": "kanazawa-staff", "password": "Staff-Pass-2026", "next": "/admin/"},
    )
    assert response.status_code == HTTPStatus.FOUND
    assert client.get(reverse("admin:index")).status_code == HTTPStatus.OK


def test_residents_cannot_log_into_the_admin(client, utility):
    MemberFactory(utility=utility, login_id="suidotaro", password="suido2026")
    response = client.post(
        reverse("admin:login"), {"username": "suidotaro", "password": "suido2026"}
    )
    assert response.status_code == HTTPStatus.OK
    assert "_auth_user_id" not in client.session


def test_createsuperuser_noinput_reads_the_environment(monkeypatch):
    monkeypatch.setitem(os.environ, "DJANGO_SUPERUSER_LOGIN_ID", "root-admin")
    monkeypatch.setitem(os.environ, "DJANGO_SUPERUSER_EMAIL", "root@example.jp")
    monkeypatch.setitem(os.environ, "DJANGO_SUPERUSER_PASSWORD", "Very-Long-Pass-2026")
    call_command("createsuperuser", interactive=False, verbosity=0)
    admin = Member.objects.get(login_id="root-admin")
    assert admin.is_superuser and admin.is_staff and admin.is_active
    assert admin.utility is None
    assert admin.check_password("Very-Long-Pass-2026")


def test_pending_members_come_first_whatever_their_age(staff_client, two_cities):
    import datetime

    kanazawa, _ = two_cities
    old_pending = MemberFactory(
        utility=kanazawa,
        login_id="oldpending",
        status=Member.Status.PENDING,
        date_joined=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
    )
    MemberFactory(utility=kanazawa, login_id="newactive")
    response = staff_client.get(reverse("admin:accounts_member_changelist"))
    html = response.content.decode()
    assert html.index(old_pending.login_id) < html.index("newactive")

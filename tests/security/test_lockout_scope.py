"""Where an address lock holds, and who can see and lift each lock (findings 14b-2).

The second outside attack: five wrong Nayoro logins from 10.253.2.1 refused Kanazawa's
suidotaro and kanazawa-staff at the admin from that address too, yet Kanazawa's staff saw no
row to lift; and five wrong admin logins as kanazawa-staff locked that staff member out with
no row any utility's staff could see. Now an address is locked where its failures happened
(one utility's login, or the admin's), and staff see their own staff accounts' locks.
"""

from __future__ import annotations

import datetime
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import Member
from accounts.services.staff import STAFF_GROUP
from portal.models import Utility

pytestmark = pytest.mark.django_db

BALANCER = "10.0.0.1"
SPRAYER = "10.253.2.1"
CHANGELIST = "admin:accounts_loginlock_changelist"


@pytest.fixture
def demo(settings, time_machine):
    settings.PORTAL_PROXY_COUNT = 1
    # Within Kanazawa's hours (07:00〜02:00).
    time_machine.move_to(datetime.datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo")))
    call_command("loaddata", "utilities", verbosity=0)
    call_command("load_demo", verbosity=0)
    return Utility.objects.get(slug="kanazawa"), Utility.objects.get(slug="nayoro")


def resident_login(utility, identifier: str, password: str, client_address: str):
    browser = Client(REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR=client_address)
    url = reverse("accounts:login", args=[utility.slug])
    return browser.post(url, {"identifier": identifier, "password": password})


def admin_login(username: str, password: str, client_address: str, browser=None):
    browser = browser or Client(REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR=client_address)
    data = {"username": username, "password": password, "next": "/admin/"}
    return browser.post(reverse("admin:login"), data)


def staff_browser(username: str, password: str) -> Client:
    browser = Client(REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert admin_login(username, password, "", browser).status_code == HTTPStatus.FOUND
    return browser


def kanazawa_colleague(kanazawa) -> None:
    """A second member of Kanazawa's staff, made as README says: the utility and the group."""
    colleague = Member.objects.create_user(
        "kanazawa-staff2",
        "staff2@kanazawa.example.jp",
        "Kanazawa-Staff-2026",
        utility=kanazawa,
        is_staff=True,
        status=Member.Status.ACTIVE,
    )
    colleague.groups.add(Group.objects.get(name=STAFF_GROUP))


def spray_nayoro(nayoro) -> None:
    for n in range(5):
        resident_login(nayoro, f"nobody{n}@example.jp", "Wrong#pass1", SPRAYER)


def test_a_spray_at_nayoro_locks_that_address_at_nayoro_only(demo):
    kanazawa, nayoro = demo
    spray_nayoro(nayoro)
    assert resident_login(nayoro, "taro@example.jp", "Nayoro#2026", SPRAYER).status_code == 429
    # Kanazawa's resident and Kanazawa's staff at the same address are not Nayoro's business.
    response = resident_login(kanazawa, "suidotaro", "kanazawa2026", SPRAYER)
    assert response.status_code == HTTPStatus.FOUND
    response = admin_login("kanazawa-staff", "Kanazawa-Staff-2026", SPRAYER)
    assert response.status_code == HTTPStatus.FOUND


def test_a_spray_at_the_admin_login_locks_that_address_at_the_admin_only(demo):
    kanazawa, _nayoro = demo
    for n in range(5):
        admin_login(f"nobody-staff{n}", "wrong-pass1", SPRAYER)
    assert admin_login("kanazawa-staff", "Kanazawa-Staff-2026", SPRAYER).status_code == 429
    response = resident_login(kanazawa, "suidotaro", "kanazawa2026", SPRAYER)
    assert response.status_code == HTTPStatus.FOUND


def test_the_staff_of_the_utility_an_address_lock_blocks_see_it_and_lift_it(demo):
    _kanazawa, nayoro = demo
    spray_nayoro(nayoro)
    kanazawa_staff = staff_browser("kanazawa-staff", "Kanazawa-Staff-2026")
    page = kanazawa_staff.get(reverse(CHANGELIST), {"q": SPRAYER})
    assert page.context["cl"].result_count == 0  # it blocks no Kanazawa resident

    nayoro_staff = staff_browser("nayoro-staff", "Nayoro-Staff-2026")
    page = nayoro_staff.get(reverse(CHANGELIST), {"q": SPRAYER})
    assert page.context["cl"].result_count == 5
    assert page.content.decode().count("停止中") == 5
    ids = list(page.context["cl"].result_list.values_list("pk", flat=True))
    nayoro_staff.post(reverse(CHANGELIST), {"action": "unlock", "_selected_action": ids})
    response = resident_login(nayoro, "taro@example.jp", "Nayoro#2026", SPRAYER)
    assert response.status_code == HTTPStatus.FOUND


def test_an_address_counts_its_failures_per_utility_on_the_lockout_list(demo):
    kanazawa, nayoro = demo
    spray_nayoro(nayoro)
    resident_login(kanazawa, "suidotaro", "wrong-pass1", SPRAYER)  # one typo at Kanazawa
    page = staff_browser("kanazawa-staff", "Kanazawa-Staff-2026").get(reverse(CHANGELIST))
    text = page.content.decode()
    assert "あと4回で停止" in text and "停止中" not in text


def test_a_locked_staff_account_is_seen_and_lifted_by_a_colleague(demo):
    for n in range(5):
        admin_login("kanazawa-staff", "wrong-pass1", f"10.254.0.{n + 1}")
    assert admin_login("kanazawa-staff", "Kanazawa-Staff-2026", "192.0.2.9").status_code == 429

    # Nayoro's staff do not see Kanazawa's staff accounts.
    nayoro_staff = staff_browser("nayoro-staff", "Nayoro-Staff-2026")
    assert "kanazawa-staff" not in nayoro_staff.get(reverse(CHANGELIST)).content.decode()

    kanazawa_colleague(demo[0])
    colleague = staff_browser("kanazawa-staff2", "Kanazawa-Staff-2026")
    page = colleague.get(reverse(CHANGELIST), {"q": "kanazawa-staff"})
    assert page.context["cl"].result_count == 5
    text = page.content.decode()
    assert "kanazawa-staff(職員)" in text and text.count("停止中") == 5
    ids = list(page.context["cl"].result_list.values_list("pk", flat=True))
    response = colleague.post(
        reverse(CHANGELIST), {"action": "unlock", "_selected_action": ids}, follow=True
    )
    assert "5件の停止を解除しました。" in response.content.decode()
    response = admin_login("kanazawa-staff", "Kanazawa-Staff-2026", "192.0.2.9")
    assert response.status_code == HTTPStatus.FOUND


def test_a_locked_staff_member_is_told_who_can_lift_it(demo):
    for n in range(5):
        admin_login("kanazawa-staff", "wrong-pass1", f"10.254.0.{n + 1}")
    response = admin_login("kanazawa-staff", "Kanazawa-Staff-2026", "192.0.2.9")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    text = response.content.decode()
    assert "同じ事業者の職員" in text and "「ログイン試行」" in text
    assert "忘れた" not in text  # the residents' recovery is no way back for staff

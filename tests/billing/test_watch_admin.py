"""Staff's read-only list of 見守り (issue 19): their utility's members only, the second
person's address masked, consent time, threshold and state; nothing can be changed."""

from __future__ import annotations

import datetime
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.services.staff import ensure_staff_group
from billing.models import Watch
from tests.factories import MemberFactory, StaffFactory, UtilityFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 6, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
LIST = reverse("admin:billing_watch_changelist")


def watch_of(utility, login_id, email, **fields) -> Watch:
    member = MemberFactory(utility=utility, login_id=login_id, name=f"{login_id} 様")
    fields = {"consent_expires_at": NOW - datetime.timedelta(days=3), **fields}
    return Watch.objects.create(
        member=member,
        email=email,
        threshold_m3=3,
        created_at=NOW - datetime.timedelta(days=10),
        **fields,
    )


@pytest.fixture
def two_utilities(time_machine):
    time_machine.move_to(NOW, tick=False)
    kanazawa, nayoro = UtilityFactory(slug="kanazawa"), UtilityFactory(slug="nayoro")
    watches = {
        "agreed": watch_of(
            kanazawa,
            "agreed",
            "musuko@example.jp",
            consented_at=NOW - datetime.timedelta(days=9),
            consented_email="musuko@example.jp",
        ),
        "waiting": watch_of(
            kanazawa,
            "waiting",
            "musume@example.jp",
            consent_expires_at=NOW + datetime.timedelta(days=1),
        ),
        "expired": watch_of(kanazawa, "expired", "oi@example.jp"),
        "stopped": watch_of(
            kanazawa,
            "stopped",
            "mago@example.jp",
            consented_at=NOW - datetime.timedelta(days=9),
            stopped_at=NOW - datetime.timedelta(days=2),
        ),
        "other": watch_of(nayoro, "nayoroone", "tonari@example.jp"),
    }
    return kanazawa, nayoro, watches


def staff_of(client, utility):
    staff = StaffFactory(utility=utility)
    staff.groups.add(ensure_staff_group())
    client.force_login(staff)
    return client


def test_staff_read_their_utilitys_watches_masked_with_consent_and_state(client, two_utilities):
    kanazawa, _nayoro, _watches = two_utilities
    page = staff_of(client, kanazawa).get(LIST)
    assert page.status_code == HTTPStatus.OK
    for words in [
        "見守りメール",
        "agreed",
        "m***@example.jp",
        "3 m³未満",
        "見守り中(同意済み)",
        "同意待ち",
        "同意の期限切れ",
        "停止(2026年12月4日)",
        "2026年11月27日",  # 同意日時
    ]:
        assertContains(page, words)
    for address in ["musuko@example.jp", "musume@example.jp", "oi@example.jp", "mago@"]:
        assertNotContains(page, address)
    assertNotContains(page, "nayoroone")  # another utility's member
    assertNotContains(page, reverse("admin:billing_watch_add"))


def test_the_detail_page_is_masked_and_another_utilitys_is_not_found(client, two_utilities):
    kanazawa, _nayoro, watches = two_utilities
    staff = staff_of(client, kanazawa)
    page = staff.get(reverse("admin:billing_watch_change", args=[watches["agreed"].pk]))
    assertContains(page, "m***@example.jp")
    assertNotContains(page, "musuko@example.jp")
    assertNotContains(page, 'type="submit" value="保存')
    other = staff.get(reverse("admin:billing_watch_change", args=[watches["other"].pk]))
    assert other.status_code in (HTTPStatus.FOUND, HTTPStatus.NOT_FOUND)
    assertNotContains(staff.get(LIST, follow=True), "tonari")


def test_the_other_utilitys_staff_see_only_theirs(client, two_utilities):
    _kanazawa, nayoro, _watches = two_utilities
    page = staff_of(client, nayoro).get(LIST)
    assertContains(page, "nayoroone")
    assertContains(page, "t***@example.jp")
    assertNotContains(page, "agreed")


def test_no_watch_can_be_added_changed_or_deleted(client, two_utilities):
    kanazawa, _nayoro, watches = two_utilities
    staff = staff_of(client, kanazawa)
    agreed = watches["agreed"]
    assert staff.get(reverse("admin:billing_watch_add")).status_code == HTTPStatus.FORBIDDEN
    change = reverse("admin:billing_watch_change", args=[agreed.pk])
    assert staff.post(change, {"email": "evil@example.jp"}).status_code == HTTPStatus.FORBIDDEN
    delete = reverse("admin:billing_watch_delete", args=[agreed.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == HTTPStatus.FORBIDDEN
    agreed.refresh_from_db()
    assert agreed.email == "musuko@example.jp"

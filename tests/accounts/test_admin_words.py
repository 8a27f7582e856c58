"""The staff side in Japanese: Japan's time and Japanese names in the history, login IDs as
typed, and the utility's own word for the customer number (「ポータル登録番号」 in Kanazawa).
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import ContractRequest, Member, MemberEvent
from accounts.services import review
from tests.factories import CustomerFactory, MemberFactory, StaffFactory, UtilityFactory

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
# 03:26 UTC is 12:26 in Japan: a UTC clock in the history read nine hours early.
SIGNED_UP = datetime.datetime(2026, 12, 6, 3, 26, tzinfo=datetime.UTC)


def staff_of(utility, *models: str):
    """A staff member of ``utility`` who may see and change ``models`` (and the history)."""
    staff = StaffFactory(utility=utility)
    models = (*models, "memberevent", "contractlink")
    codenames = [f"{verb}_{model}" for model in models for verb in ("view", "change")]
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return staff


@pytest.fixture
def kanazawa(db):
    return UtilityFactory(customer_number_label="ポータル登録番号")


@pytest.fixture
def nayoro(db):
    return UtilityFactory(customer_number_label="お客様番号", customer_number_digits=11)


def pending(utility, number: str) -> Member:
    contract = CustomerFactory(utility=utility, number=number, phone="0761234567")
    member = MemberFactory(
        utility=utility, login_id="rev15kz10", status=Member.Status.PENDING, phone="0761234567"
    )
    member.signup_customer_number = number
    member.signup_match = review.match_contract(
        utility, number, member.name, member.phone, member.address
    )
    member.save()
    return member, contract


def test_a_history_row_is_japanese_in_japans_time(client, kanazawa):
    member, _contract = pending(kanazawa, "10000000000010")
    event = MemberEvent.objects.create(member=member, action="signup", created_at=SIGNED_UP)
    assert str(event) == "2026年12月6日 12:26 会員登録"
    client.force_login(staff_of(kanazawa, "member"))
    page = client.get(reverse("admin:accounts_member_change", args=[member.pk]))
    assertContains(page, "2026年12月6日 12:26")
    assertNotContains(page, "2026-12-06 03:26")
    assertNotContains(page, " signup</p>")


def test_the_approval_message_keeps_the_login_id_as_typed(client, kanazawa, mailoutbox):
    member, _contract = pending(kanazawa, "10000000000010")
    client.force_login(staff_of(kanazawa, "member"))
    url = reverse("admin:accounts_member_approve", args=[member.pk])
    page = client.post(url, follow=True)
    assertContains(page, "rev15kz10: 承認しました。")
    assertNotContains(page, "Rev15kz10")


@pytest.mark.parametrize(
    ("which", "word"), [("kanazawa", "ポータル登録番号"), ("nayoro", "お客様番号")]
)
def test_staff_read_their_utilitys_word_for_the_number(client, request, which, word):
    utility = request.getfixturevalue(which)
    member, contract = pending(utility, "10000000000010")
    ContractRequest.objects.create(member=member, customer_number=contract.number, name="水道 太郎")
    review.record_event(member, "approved", detail={"customer_number": contract.number})
    client.force_login(staff_of(utility, "member", "contractrequest", "customer"))
    pages = {
        "契約": client.get(reverse("admin:billing_customer_changelist")),
        "契約の詳細": client.get(reverse("admin:billing_customer_change", args=[contract.pk])),
        "会員": client.get(reverse("admin:accounts_member_change", args=[member.pk])),
        "追加申請": client.get(reverse("admin:accounts_contractrequest_changelist")),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        if word != "お客様番号":
            assertNotContains(page, "お客様番号")
    assertContains(pages["契約"], f">{word}</a>")  # the sortable column's header
    assertContains(pages["契約の詳細"], f"{word}:</label>")
    assertContains(pages["会員"], f"申請時の{word}")
    assertContains(pages["会員"], f"照合する契約の{word}")
    assertContains(pages["会員"], f"承認({word}: {contract.number})")
    assertContains(pages["追加申請"], f"入力された{word}")


def test_every_time_on_a_members_page_reads_as_the_history_does(client, kanazawa):
    """「2026年12月6日 12:26」 for 登録日時 and 最終ログイン too, not Django's 「…6日12:26」."""
    member, _contract = pending(kanazawa, "10000000000011")
    Member.objects.filter(pk=member.pk).update(date_joined=SIGNED_UP, last_login=SIGNED_UP)
    client.force_login(staff_of(kanazawa, "member"))
    response = client.get(reverse("admin:accounts_member_change", args=[member.pk]))
    html = response.content.decode()
    assert html.count("2026年12月6日 12:26") >= 2, html[html.find("登録日時") :][:300]
    assert "2026年12月6日12:26" not in html

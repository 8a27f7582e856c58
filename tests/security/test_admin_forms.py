"""What a member of staff types in the admin is checked by the form: errors, never a 500
(findings 14b-3 and 14b-4).

The second outside attack, as Kanazawa staff: another member's email or ``SUIDOTARO`` on a
member's page answered 500 (UniqueViolation from save_model); ``abc`` in a contract field
that is an autocomplete answered 500 (ValueError while the page with errors was drawn); and
``suıdotaro``, ``sec 14k5``, ``ab`` or ``<b>x</b>`` were saved as login IDs.
"""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import ContractLink, ContractRequest, Member
from accounts.services.staff import ensure_staff_group
from billing.models import MeterReading
from tests.factories import CustomerFactory, MemberFactory, StaffFactory, UtilityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def kanazawa():
    return UtilityFactory(slug="kanazawa")


@pytest.fixture
def staff_client(client, kanazawa):
    """Kanazawa's staff as README makes them: the utility and the staff group."""
    staff = StaffFactory(utility=kanazawa, login_id="kanazawa-staff")
    staff.groups.add(ensure_staff_group())
    client.force_login(staff)
    return client


@pytest.fixture
def suidotaro(kanazawa):
    return MemberFactory(utility=kanazawa, login_id="suidotaro", email="taro@example.jp")


@pytest.fixture
def hanako(kanazawa):
    return MemberFactory(utility=kanazawa, login_id="hanako01", email="hanako@example.jp")


def member_page_data(member: Member, **changes) -> dict:
    """The member page's POST as the browser sends it, with ``changes`` typed in."""
    data = {
        "status": member.status,
        "utility": member.utility_id or "",
        "login_id": member.login_id,
        "email": member.email,
        "name": member.name,
        "phone": member.phone,
        "contract_links-TOTAL_FORMS": "0",
        "contract_links-INITIAL_FORMS": "0",
        "contract_requests-TOTAL_FORMS": "0",
        "contract_requests-INITIAL_FORMS": "0",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
        "_save": "保存",
    }
    return {**data, **changes}


def post_member(client, member: Member, **changes):
    url = reverse("admin:accounts_member_change", args=[member.pk])
    return client.post(url, member_page_data(member, **changes))


def field_errors(response, field: str) -> list[str]:
    assert response.status_code == HTTPStatus.OK  # the page again, not a redirect or a 500
    return list(response.context["adminform"].form.errors.get(field, []))


# 3a: unique login IDs and addresses ------------------------------------------------------


def test_another_members_email_is_a_field_error(staff_client, suidotaro, hanako):
    response = post_member(staff_client, hanako, email="Taro@Example.jp")
    assert field_errors(response, "email") == ["このメールアドレスは既に他の会員が使用しています。"]
    hanako.refresh_from_db()
    assert hanako.email == "hanako@example.jp"


def test_a_case_variant_of_another_members_login_id_is_a_field_error(
    staff_client, suidotaro, hanako
):
    response = post_member(staff_client, hanako, login_id="SUIDOTARO")
    assert field_errors(response, "login_id") == ["このログインIDは既に使用されています。"]
    hanako.refresh_from_db()
    assert hanako.login_id == "hanako01"


def test_a_withdrawn_members_login_id_and_email_may_be_given_again(staff_client, kanazawa, hanako):
    MemberFactory(
        utility=kanazawa,
        login_id="oldtaro01",
        email="old@example.jp",
        status=Member.Status.WITHDRAWN,
    )
    response = post_member(staff_client, hanako, login_id="oldtaro01", email="old@example.jp")
    assert response.status_code == HTTPStatus.FOUND
    hanako.refresh_from_db()
    assert (hanako.login_id, hanako.email) == ("oldtaro01", "old@example.jp")


def test_the_same_login_id_in_another_utility_is_someone_else(staff_client, hanako):
    MemberFactory(utility=UtilityFactory(), login_id="tonari01")
    response = post_member(staff_client, hanako, login_id="tonari01")
    assert response.status_code == HTTPStatus.FOUND


def test_a_member_saved_unchanged_is_not_its_own_duplicate(staff_client, hanako):
    assert post_member(staff_client, hanako).status_code == HTTPStatus.FOUND


def test_another_staff_members_login_id_is_a_field_error(staff_client, kanazawa):
    colleague = StaffFactory(utility=kanazawa, login_id="kanazawa-staff2")
    response = post_member(staff_client, colleague, login_id="Kanazawa-Staff")
    assert field_errors(response, "login_id") == ["このログインIDは既に使用されています。"]


def test_a_blank_utility_chosen_by_staff_is_still_checked_in_their_own(
    staff_client, suidotaro, hanako
):
    """Staff's saves land in their own utility whatever the form says: so does the check."""
    response = post_member(staff_client, hanako, utility="", login_id="suidotaro")
    assert field_errors(response, "login_id") == ["このログインIDは既に使用されています。"]


# 3b: a typed id in an autocomplete field ---------------------------------------------------

NOT_AN_ID = ["abc", "1e3", "21\x00", "99999999999999999999999"]


@pytest.mark.parametrize("typed", NOT_AN_ID)
def test_a_contract_link_with_no_id_is_a_field_error(staff_client, hanako, typed):
    response = post_member(
        staff_client,
        hanako,
        **{
            "contract_links-TOTAL_FORMS": "1",
            "contract_links-0-customer": typed,
            "contract_links-0-member": str(hanako.pk),
        },
    )
    assert response.status_code == HTTPStatus.OK
    (errors,) = response.context["inline_admin_formsets"][0].formset.errors
    assert "customer" in errors
    assert not ContractLink.objects.filter(member=hanako).exists()


@pytest.mark.parametrize("typed", NOT_AN_ID)
def test_a_contract_request_with_no_customer_id_is_a_field_error(
    staff_client, kanazawa, hanako, typed
):
    customer = CustomerFactory(utility=kanazawa)
    request = ContractRequest.objects.create(
        member=hanako, customer=customer, customer_number=customer.number
    )
    url = reverse("admin:accounts_contractrequest_change", args=[request.pk])
    response = staff_client.post(url, {"customer": typed, "_save": "保存"})
    assert field_errors(response, "customer")
    request.refresh_from_db()
    assert request.customer == customer


@pytest.mark.parametrize("typed", NOT_AN_ID)
def test_a_new_reading_with_no_customer_id_is_a_field_error(staff_client, typed):
    data = {
        "customer": typed,
        "period_start": "2026-10-01",
        "period_end": "2026-11-30",
        "read_on": "2026-12-01",
        "previous_index": "100",
        "current_index": "120",
        "usage_m3": "20",
        "water_charge": "2000",
        "sewer_charge": "1500",
        "tax": "318",
        "total": "3500",
        "_save": "保存",
    }
    response = staff_client.post(reverse("admin:billing_meterreading_add"), data)
    assert field_errors(response, "customer")
    assert not MeterReading.objects.exists()


# 4: the login-ID rule, as at signup ------------------------------------------------------

RULE = "ログインIDは半角英数字6〜16文字で入力してください(記号は使えません)。"


@pytest.mark.parametrize("typed", ["suıdotaro", "sec 14k5", "ab", "<b>x</b>", "suidotaro_2"])
def test_staff_cannot_give_a_resident_a_login_id_the_signup_would_refuse(
    staff_client, suidotaro, typed
):
    response = post_member(staff_client, suidotaro, login_id=typed)
    assert field_errors(response, "login_id") == [RULE]
    suidotaro.refresh_from_db()
    assert suidotaro.login_id == "suidotaro"


def test_a_login_id_typed_in_full_width_or_capitals_is_saved_as_the_resident_logs_in(
    staff_client, client, suidotaro
):
    response = post_member(staff_client, suidotaro, login_id="ＳｕｉｄｏＴａｒｏ２")
    assert response.status_code == HTTPStatus.FOUND
    suidotaro.refresh_from_db()
    assert suidotaro.login_id == "suidotaro2"
    client.logout()
    response = client.post(
        reverse("accounts:login", args=[suidotaro.utility.slug]),
        {"identifier": "suidotaro2", "password": "suido2026"},
    )
    assert response.status_code == HTTPStatus.FOUND


def test_a_resident_of_a_login_id_utility_keeps_a_login_id(staff_client, suidotaro):
    response = post_member(staff_client, suidotaro, login_id="")
    assert field_errors(response, "login_id") == [RULE]


def test_an_email_login_resident_needs_no_login_id(client):
    nayoro = UtilityFactory(code_style=True, slug="nayoro")
    staff = StaffFactory(utility=nayoro, login_id="nayoro-staff")
    staff.groups.add(ensure_staff_group())
    client.force_login(staff)
    member = MemberFactory(utility=nayoro, login_id="", email="taro@example.jp")
    assert post_member(client, member, name="名寄 太郎").status_code == HTTPStatus.FOUND
    response = post_member(client, member, login_id="ab")
    assert field_errors(response, "login_id") == [RULE]


def test_a_login_id_saved_long_ago_does_not_stop_other_edits(staff_client, kanazawa):
    """The rule is for what staff type: an unchanged older ID is kept as it is."""
    member = MemberFactory(utility=kanazawa, login_id="old_id")
    assert post_member(staff_client, member, name="水道 花子").status_code == HTTPStatus.FOUND
    member.refresh_from_db()
    assert (member.login_id, member.name) == ("old_id", "水道 花子")


@pytest.mark.parametrize("typed", ["kanazawa staff", "職員01", "<b>x</b>", "ab"])
def test_a_staff_login_id_follows_the_staff_rule(staff_client, kanazawa, typed):
    colleague = StaffFactory(utility=kanazawa, login_id="kanazawa-staff2")
    response = post_member(staff_client, colleague, login_id=typed)
    assert field_errors(response, "login_id") == [
        "職員のログインIDは、半角英数字と「-」「_」「.」を使って3〜64文字で入力してください。"
    ]


def test_a_staff_login_id_may_keep_its_hyphen(staff_client, kanazawa):
    colleague = StaffFactory(utility=kanazawa, login_id="kanazawa-staff2")
    response = post_member(staff_client, colleague, login_id="Kanazawa-Staff3")
    assert response.status_code == HTTPStatus.FOUND
    colleague.refresh_from_db()
    assert colleague.login_id == "kanazawa-staff3"


# Finding 10 (issue 15 review): admin leftovers ---------------------------------------------


def test_a_saved_member_is_named_in_japanese_brackets(staff_client, hanako):
    """Django's Japanese puts the name in English quotes: 「会員 “hanako01” を変更しました。」."""
    url = reverse("admin:accounts_member_change", args=[hanako.pk])
    page = staff_client.post(url, member_page_data(hanako), follow=True)
    link = reverse("admin:accounts_member_change", args=[hanako.pk])
    assertContains(page, f'会員「<a href="{link}">hanako01</a>」を変更しました。')
    assertNotContains(page, "“")


def test_a_members_page_shows_only_what_the_members_utility_asks(staff_client, kanazawa):
    """Kanazawa's signup never asks kana, relation or payment: its members' pages had those
    three Nayoro rows, empty (or, for demo data, another person's kana)."""
    kanazawa.asks_kana = kanazawa.asks_relation = kanazawa.asks_payment_method = False
    kanazawa.save()
    member = MemberFactory(utility=kanazawa, login_id="katomisaki")
    page = staff_client.get(reverse("admin:accounts_member_change", args=[member.pk]))
    for label in ("申込者と契約者の関係", "支払方法", "お客様氏名カナ"):
        assertNotContains(page, f"{label}:</label>")
    assertContains(page, "住所:</label>")
    # A value stored anyway (an older signup, an import) stays in sight and editable.
    Member.objects.filter(pk=member.pk).update(name_kana="カトウ ミサキ")
    page = staff_client.get(reverse("admin:accounts_member_change", args=[member.pk]))
    assertContains(page, "お客様氏名カナ:</label>")
    assertContains(page, 'value="カトウ ミサキ"')


def test_a_nayoro_members_page_keeps_its_own_rows(client):
    nayoro = UtilityFactory(code_style=True, slug="nayoro")
    staff = StaffFactory(utility=nayoro, login_id="nayoro-staff")
    staff.groups.add(ensure_staff_group())
    client.force_login(staff)
    member = MemberFactory(utility=nayoro, login_id="", email="taro@example.jp")
    page = client.get(reverse("admin:accounts_member_change", args=[member.pk]))
    for label in ("申込者と契約者の関係", "支払方法", "お客様氏名カナ"):
        assertContains(page, f"{label}:</label>")
    assertNotContains(page, "秘密の質問:</label>")

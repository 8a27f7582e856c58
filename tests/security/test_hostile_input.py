"""Hostile and generated values at every form and query string: never a 500, never stored raw."""

from __future__ import annotations

import pytest
from django.urls import reverse
from hypothesis import given

from accounts.models import Member
from tests.factories import ContractLinkFactory, MemberFactory, MeterReadingFactory, UtilityFactory
from tests.helpers import kanazawa_contract, reach_details

from .strategies import assert_handled, form_data, hostile, hostile_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def kanazawa(db):
    return UtilityFactory()


@pytest.fixture
def nayoro(db):
    return UtilityFactory(code_style=True)


@hostile
@given(data=form_data(["identifier", "password", "remember_id", "next"]))
def test_login_forms(client, kanazawa, nayoro, data):
    for utility in (kanazawa, nayoro):
        assert_handled(client.post(reverse("accounts:login", args=[utility.slug]), data))
    assert "_auth_user_id" not in client.session


@hostile
@given(data=form_data(["email", "email_confirm", "agree_terms"]))
def test_signup_email_step(client, kanazawa, data):
    assert_handled(client.post(reverse("accounts:signup", args=[kanazawa.slug]), data))


DETAIL_FIELDS = [
    "customer_number",
    "name",
    "address",
    "building",
    "phone",
    "login_id",
    "password",
    "password_confirm",
    "secret_question",
    "secret_answer",
    "tax_declaration",
    "referral",
]


@pytest.fixture
def at_details(client, kanazawa, mailoutbox):
    kanazawa_contract(kanazawa)
    reach_details(client, kanazawa, mailoutbox)
    return client


@hostile
@given(data=form_data(DETAIL_FIELDS))
def test_signup_details_step(at_details, kanazawa, data):
    members = Member.objects.count()
    response = at_details.post(reverse("accounts:signup_confirm", args=[kanazawa.slug]), data)
    assert_handled(response)
    assert Member.objects.count() == members  # the confirmation step never saves anyone


@pytest.fixture
def resident(client, kanazawa):
    member = MemberFactory(utility=kanazawa)
    link = ContractLinkFactory(member=member)
    for _ in range(3):
        MeterReadingFactory(customer=link.customer)
    client.force_login(member)
    return link.customer


@hostile
@given(page=hostile_text, number=hostile_text, day=hostile_text)
def test_usage_query_strings_and_urls(client, kanazawa, resident, page, number, day):
    base = f"/{kanazawa.slug}/usage/"
    for path in [
        base,
        f"{base}{resident.number}/history/",
        f"{base}{resident.number}/history.csv",
    ]:
        assert_handled(client.get(path, {"page": page, "contract": number}))
    assert_handled(client.get(f"{base}{resident.number}/2025-05-25/", {"x": day}))


@pytest.mark.parametrize(
    "tail",
    [
        "%FF%FE/",
        "usage/%C0%AF/",
        "usage/{number}/9999-99-99/",
        "usage/{number}/2025-02-30/",
        "usage/{number}/%00/",
        "usage/{number}x/history/",
        "a" * 5000 + "/",
    ],
)
def test_invalid_urls_are_a_japanese_404(client, kanazawa, resident, tail):
    response = client.get(f"/{kanazawa.slug}/" + tail.format(number=resident.number))
    assert response.status_code == 404
    assert "ページが見つかりません".encode() in response.content


def test_nul_in_the_utility_slug_is_a_404(client):
    response = client.get("/%00/")
    assert response.status_code == 404


def test_invalid_utf8_in_the_query_string(client, kanazawa, resident):
    response = client.get(f"/{kanazawa.slug}/usage/{resident.number}/history/?page=%FF%FE")
    assert_handled(response)


def test_oversized_body_is_a_400_page(client, kanazawa, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = client.post(
        reverse("accounts:login", args=[kanazawa.slug]), {"identifier": "x" * 5000, "password": "y"}
    )
    assert response.status_code == 400
    assert "リクエストを処理できませんでした".encode() in response.content


def test_too_many_fields_is_a_400_page(client, kanazawa):
    data = {f"f{i}": "x" for i in range(1200)}
    response = client.post(reverse("accounts:login", args=[kanazawa.slug]), data)
    assert response.status_code == 400


def test_oversized_header_does_not_break_the_page(client, kanazawa):
    response = client.get(
        reverse("accounts:login", args=[kanazawa.slug]), HTTP_USER_AGENT="x" * 100_000
    )
    assert response.status_code == 200


def test_nul_byte_is_refused_with_a_message_that_says_what_to_fix(client, kanazawa):
    response = client.post(
        reverse("accounts:login", args=[kanazawa.slug]),
        {"identifier": "abc\x00def", "password": "x"},
    )
    assert response.status_code == 200
    assert "使用できない文字(NUL文字)が含まれています。" in response.content.decode()

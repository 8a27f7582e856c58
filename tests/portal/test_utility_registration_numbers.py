"""The utility's 適格請求書 registration numbers as staff type them (issue 20 findings F4, F5)."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse

from portal.models import Utility, registration_check_digit
from tests.factories import StaffFactory, UtilityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def kanazawa():
    return UtilityFactory(slug="kanazawa", invoice_registration_number="T9000000000017")


def post(client, utility, **changes):
    """Post the utility's change form as the page gave it, with ``changes``."""
    client.force_login(StaffFactory(utility=utility, is_superuser=True))
    url = reverse("admin:portal_utility_change", args=[utility.pk])
    page = client.get(url)
    form = page.context["adminform"].form
    data = {
        name: "" if value is None else value
        for name, value in form.initial.items()
        if name in form.fields
    }
    for inline in page.context["inline_admin_formsets"]:  # the texts in other languages
        management = inline.formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
    data.update(changes, _save="保存")
    return client.post(url, data)


def errors(response) -> dict:
    assert response.status_code == HTTPStatus.OK
    return response.context["adminform"].form.errors


def test_the_check_digit_follows_the_nta_rule():
    # 国税庁's worked example: 法人番号 7123456789012.
    assert registration_check_digit("123456789012") == 7
    assert registration_check_digit("000000000017") == 9


def test_a_number_with_a_wrong_check_digit_is_refused(client, kanazawa):
    response = post(client, kanazawa, invoice_registration_number="T9000000000026")
    assert errors(response)["invoice_registration_number"] == [
        "登録番号の検査用数字(「T」の次の1桁)が合いません。"
        "国税庁の適格請求書発行事業者公表サイトで番号を確かめてください。"
    ]
    kanazawa.refresh_from_db()
    assert kanazawa.invoice_registration_number == "T9000000000017"


def test_a_full_width_number_is_saved_half_width(client, kanazawa):
    response = post(client, kanazawa, invoice_registration_number="Ｔ９００００００００００２５")
    assert response.status_code == HTTPStatus.FOUND
    kanazawa.refresh_from_db()
    assert kanazawa.invoice_registration_number == "T9000000000025"


def test_a_sewer_number_without_its_issuers_name_is_refused(client, kanazawa):
    response = post(client, kanazawa, sewer_invoice_registration_number="T9000000000033")
    assert errors(response)["sewer_invoice_issuer"] == [
        "下水道使用料の登録番号を入力するときは、その発行事業者名も入力してください。"
    ]
    assert Utility.objects.get(pk=kanazawa.pk).sewer_invoice_registration_number == ""


def test_a_sewer_issuers_name_without_its_number_is_refused(client, kanazawa):
    response = post(client, kanazawa, sewer_invoice_issuer="見本市下水道課")
    assert errors(response)["sewer_invoice_registration_number"] == [
        "下水道使用料の発行事業者名を入力するときは、その登録番号も入力してください。"
    ]


def test_a_sewer_issuer_with_name_and_number_is_saved(client, kanazawa):
    response = post(
        client,
        kanazawa,
        sewer_invoice_issuer="見本市下水道課",
        sewer_invoice_registration_number="T9000000000033",
    )
    assert response.status_code == HTTPStatus.FOUND
    kanazawa.refresh_from_db()
    assert kanazawa.sewer_invoice_issuer == "見本市下水道課"

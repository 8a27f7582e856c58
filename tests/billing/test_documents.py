"""PDFs of one period: 検針票, 適格請求書, 領収済・収納済の証明 — their text, their record, who gets them."""

from __future__ import annotations

import datetime
import hashlib
import io
from http import HTTPStatus
from urllib.parse import quote

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db.models.deletion import ProtectedError
from django.urls import reverse
from pypdf import PdfReader
from pytest_django.asserts import assertContains, assertNotContains

from billing import documents
from billing.models import IssuedDocument, Payment
from tests.factories import (
    ContractLinkFactory,
    CustomerFactory,
    MemberFactory,
    MeterReadingFactory,
    PaymentFactory,
    StaffFactory,
    UtilityFactory,
)

pytestmark = pytest.mark.django_db

JST = datetime.timezone(datetime.timedelta(hours=9))
END = datetime.date(2026, 10, 25)
NOW = datetime.datetime(2026, 11, 2, 10, 0, tzinfo=JST)


@pytest.fixture
def utility(db):
    return UtilityFactory(
        name="見本市上下水道局",
        invoice_registration_number="T1234567890123",
        customer_number_label="お客様番号",
    )


@pytest.fixture
def member(utility):
    return MemberFactory(utility=utility, tax_declaration="yes")


@pytest.fixture
def contract(member):
    return ContractLinkFactory(member=member, customer__name="水道 太郎").customer


@pytest.fixture
def reading(contract):
    # TARIFF.md's worked bill: 59 m³ over two months on a 20 mm meter.
    return MeterReadingFactory(
        customer=contract,
        period_start=datetime.date(2026, 8, 26),
        period_end=END,
        read_on=END,
        previous_index=1200,
        current_index=1259,
        usage_m3=59,
        water_charge=9038,
        sewer_charge=7062,
        tax=1463,
        total=16100,
    )


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def url(name: str, contract, end=END) -> str:
    return reverse(f"billing:{name}", args=[contract.utility.slug, contract.number, end])


def text_of(response) -> str:
    """The PDF's text as a reader extracts it, spaces and line breaks dropped."""
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return "".join(page.extract_text() for page in reader.pages).replace(" ", "").replace("\n", "")


def test_slip_pdf_says_what_the_slip_page_says(member_client, contract, reading):
    response = member_client.get(url("slip_pdf", contract))
    assert response.status_code == HTTPStatus.OK
    text = text_of(response)
    for expected in [
        "上下水道料金のお知らせ(検針票)",
        "見本市上下水道局",
        contract.number,
        "水道太郎様",
        "2026年8月26日〜2026年10月25日",
        "59m³",
        "9,038円",
        "7,062円",
        "16,100円",
        "1,463円",
    ]:
        assert expected in text
    # The font travels inside the file: a reader without any Japanese font shows the same.
    fonts = PdfReader(io.BytesIO(response.content)).pages[0]["/Resources"]["/Font"]
    descriptors = [font.get_object()["/FontDescriptor"] for font in fonts.values()]
    assert descriptors
    assert all("/FontFile2" in descriptor for descriptor in descriptors)
    assert not IssuedDocument.objects.exists()  # a slip is not an issued document


def test_a_head_request_for_a_pdf_answers_as_get_does(member_client, contract, reading):
    # Issue 20 finding F10: HEAD was a 405.
    response = member_client.head(url("slip_pdf", contract))
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/pdf"
    assert response.content == b""


def test_pdf_headers_name_the_file_in_japanese_and_forbid_shared_caches(
    member_client, contract, reading
):
    response = member_client.get(url("slip_pdf", contract))
    name = f"検針票_{contract.number}_2026-10-25.pdf"
    assert response["Content-Disposition"] == f"inline; filename*=utf-8''{quote(name)}"
    cache_control = response["Cache-Control"]
    assert "private" in cache_control
    assert "no-store" in cache_control


@time_machine.travel(NOW, tick=False)
def test_invoice_pdf_holds_the_legal_items(member_client, contract, reading):
    response = member_client.get(url("invoice_pdf", contract))
    assert response.status_code == HTTPStatus.OK
    text = text_of(response)
    for expected in [
        "適格請求書",
        "見本市上下水道局",
        "T1234567890123",
        "水道太郎様",
        "2026年8月26日〜2026年10月25日",
        "水道料金・下水道使用料",
        "10%対象",
        "16,100円",
        "1,463円",
        f"INV-{contract.number}-20261025-1",
        "発行日:2026年11月2日",
    ]:
        assert expected in text
    issued = IssuedDocument.objects.get()
    assert issued.number == f"INV-{contract.number}-20261025-1"
    assert (issued.customer, issued.period_end, issued.kind) == (contract, END, "invoice")
    assert issued.issued_at == NOW
    assert bytes(issued.pdf) == response.content
    assert issued.pdf_sha256 == hashlib.sha256(response.content).hexdigest()


def get_at(client, member, moment: datetime.datetime, path: str):
    """GET as the member at ``moment``, freshly logged in (days idle would sign them out)."""
    with time_machine.travel(moment, tick=False):
        client.logout()
        client.force_login(member)
        return client.get(path)


def test_asking_again_returns_the_stored_bytes(client, member, contract, reading):
    first = get_at(client, member, NOW, url("invoice_pdf", contract)).content
    # A later day would print another 発行日: the same bytes prove the stored copy is served.
    later = NOW + datetime.timedelta(days=40)
    again = get_at(client, member, later, url("invoice_pdf", contract)).content
    assert again == first
    assert IssuedDocument.objects.count() == 1


def test_a_corrected_amount_issues_a_new_invoice_and_keeps_the_old_one(
    client, member, contract, reading
):
    first = get_at(client, member, NOW, url("invoice_pdf", contract)).content
    # A later import corrects the period (upsert on (contract, period_end)).
    reading.water_charge, reading.total, reading.tax = 8000, 15062, 1369
    reading.save()
    later = NOW + datetime.timedelta(days=3)
    text = text_of(get_at(client, member, later, url("invoice_pdf", contract)))
    assert f"INV-{contract.number}-20261025-2" in text
    # Issue 20 finding F6: a revision names the invoice it corrects.
    assert f"INV-{contract.number}-20261025-1を訂正したものです" in text
    assert "15,062円" in text
    assert "16,100円" not in text
    assert "発行日:2026年11月5日" in text
    old, new = IssuedDocument.objects.order_by("revision")
    assert bytes(old.pdf) == first  # the first invoice is kept as it was issued
    assert old.pdf_sha256 == hashlib.sha256(first).hexdigest()
    assert new.number != old.number


def test_a_corrected_bill_issues_a_new_invoice_that_states_it(client, member, contract, reading):
    # Issue 20 finding F2: import_payments corrected 請求額, the invoice stayed at the old one.
    unpaid = {"status": Payment.Status.UNPAID, "paid_on": None, "paid_amount": 0}
    bill = paid(contract, **unpaid)
    first = text_of(get_at(client, member, NOW, url("invoice_pdf", contract)))
    assert "ご請求額" not in first  # the bill agrees with the charges: nothing to add
    assert "異なります" not in first
    assert "訂正したもの" not in first
    bill.billed_amount = 16500
    bill.save()
    later = NOW + datetime.timedelta(days=3)
    text = text_of(get_at(client, member, later, url("invoice_pdf", contract)))
    assert f"INV-{contract.number}-20261025-2" in text
    assert "ご請求額16,500円" in text
    assert "ご請求額(16,500円)は料金の請求金額(16,100円)と異なります。" in text
    assert IssuedDocument.objects.count() == 2


def test_a_character_the_font_lacks_prints_as_geta_with_a_note(member_client, contract, reading):
    # Issue 20 finding F3: 「𠮷田」 printed as 「☒田」 on the 宛名 with no explanation.
    contract.name = "𠮷田 大輔"
    contract.save()
    text = text_of(member_client.get(url("invoice_pdf", contract)))
    assert "〓田大輔様" in text
    assert "〓は、この書類の書体にない文字の代わりに印字しています。" in text
    assert IssuedDocument.objects.get().facts["header"][0][1] == "𠮷田 大輔 様"  # kept true
    plain = text_of(member_client.get(url("slip_pdf", contract)))
    assert "〓田大輔様" in plain


def test_a_renamed_contract_issues_a_new_invoice(member_client, contract, reading):
    member_client.get(url("invoice_pdf", contract))
    contract.name = "水道 花子"
    contract.save()
    assert "水道花子様" in text_of(member_client.get(url("invoice_pdf", contract)))
    assert IssuedDocument.objects.count() == 2


def test_two_registration_numbers_give_one_invoice_part_each(
    member_client, utility, contract, reading
):
    utility.sewer_invoice_issuer = "見本市下水道事業"
    utility.sewer_invoice_registration_number = "T9876543210987"
    utility.save()
    text = text_of(member_client.get(url("invoice_pdf", contract)))
    assert "適格請求書発行事業者:見本市上下水道局" in text
    assert "T1234567890123" in text
    assert "適格請求書発行事業者:見本市下水道事業" in text
    assert "T9876543210987" in text
    # Each part's tax is its own: 9,038 × 10/110 → 821 and 7,062 × 10/110 → 642.
    assert "9,038円821円" in text
    assert "7,062円642円" in text
    page = member_client.get(reverse("billing:period", args=[utility.slug, contract.number, END]))
    assertContains(page, "T9876543210987")
    assertContains(page, "見本市下水道事業")


def test_one_utility_number_names_one_issuer_on_the_slip_page(member_client, contract, reading):
    page = member_client.get(
        reverse("billing:period", args=[contract.utility.slug, contract.number, END])
    )
    assertContains(page, "T1234567890123", count=1)
    assertContains(page, url("invoice_pdf", contract))
    assertContains(page, url("slip_pdf", contract))


def test_no_invoice_for_a_member_who_files_no_tax(client, utility, contract, reading, member):
    member.tax_declaration = "no"
    member.save()
    client.force_login(member)
    assert client.get(url("invoice_pdf", contract)).status_code == HTTPStatus.NOT_FOUND
    page = client.get(reverse("billing:period", args=[utility.slug, contract.number, END]))
    assertNotContains(page, "invoice.pdf")
    assert not IssuedDocument.objects.exists()


def test_no_invoice_from_a_utility_without_a_registration_number(
    member_client, utility, contract, reading
):
    utility.invoice_registration_number = ""
    utility.save()
    assert member_client.get(url("invoice_pdf", contract)).status_code == HTTPStatus.NOT_FOUND


def test_a_sewer_number_needs_the_water_number(utility):
    utility.invoice_registration_number = ""
    utility.sewer_invoice_registration_number = "T9876543210987"
    with pytest.raises(ValidationError) as raised:
        utility.full_clean()
    assert "水道料金の登録番号も入力してください" in str(raised.value)


# 領収済・収納済の証明 ------------------------------------------------------------------------------


def paid(contract, **fields) -> Payment:
    defaults = {
        "period_start": datetime.date(2026, 8, 26),
        "period_end": END,
        "billed_amount": 16100,
        "due_date": datetime.date(2026, 11, 26),
        "paid_on": datetime.date(2026, 11, 26),
        "paid_amount": 16100,
    }
    return PaymentFactory(customer=contract, **{**defaults, **fields})


@time_machine.travel(NOW + datetime.timedelta(days=30), tick=False)
def test_receipt_for_a_paid_period(member_client, contract, reading):
    paid(contract)
    page = member_client.get(
        reverse("billing:period", args=[contract.utility.slug, contract.number, END])
    )
    assertContains(page, url("receipt_pdf", contract))
    response = member_client.get(url("receipt_pdf", contract))
    assert response.status_code == HTTPStatus.OK
    text = text_of(response)
    for expected in [
        "領収済・収納済の証明",
        "見本市上下水道局",
        "水道太郎様",
        "2026年8月26日〜2026年10月25日",
        "口座振替",
        "2026年11月26日",
        "16,100円",
        "上記の金額を領収し、収納済みであることを証明します。",
        f"RCP-{contract.number}-20261025-1",
    ]:
        assert expected in text
    issued = IssuedDocument.objects.get(kind="receipt")
    assert bytes(issued.pdf) == response.content
    assert "filename*=utf-8''" in response["Content-Disposition"]


@pytest.mark.parametrize("status", [Payment.Status.UNPAID, Payment.Status.TRANSFER_FAILED])
def test_no_receipt_for_an_unpaid_period(member_client, contract, reading, status):
    paid(contract, status=status, paid_on=None, paid_amount=0)
    page = member_client.get(
        reverse("billing:period", args=[contract.utility.slug, contract.number, END])
    )
    assertNotContains(page, "receipt.pdf")
    assert member_client.get(url("receipt_pdf", contract)).status_code == HTTPStatus.NOT_FOUND
    assert not IssuedDocument.objects.exists()


def test_a_contract_with_issued_documents_cannot_be_deleted(member_client, contract, reading):
    member_client.get(url("invoice_pdf", contract))
    with pytest.raises(ProtectedError):
        contract.delete()


# Security: another contract's number and period in every URL ---------------------------------


@pytest.mark.parametrize("name", ["slip_pdf", "invoice_pdf", "receipt_pdf"])
def test_another_members_contract_is_a_404_in_every_document_url(
    member_client, utility, contract, reading, name
):
    theirs = ContractLinkFactory(member__utility=utility).customer
    MeterReadingFactory(customer=theirs, period_end=END)
    paid(theirs)
    elsewhere = ContractLinkFactory().customer  # another utility's contract
    MeterReadingFactory(customer=elsewhere, period_end=END)
    paid(elsewhere)
    for other in [theirs, elsewhere]:
        response = member_client.get(
            reverse(f"billing:{name}", args=[utility.slug, other.number, END])
        )
        assert response.status_code == HTTPStatus.NOT_FOUND
    # The member's own contract with a period only the other contract has: 404 too.
    other_end = datetime.date(2026, 6, 25)
    MeterReadingFactory(customer=theirs, period_end=other_end)
    assert member_client.get(url(name, contract, other_end)).status_code == HTTPStatus.NOT_FOUND
    assert not IssuedDocument.objects.exists()


@pytest.mark.parametrize("name", ["slip_pdf", "invoice_pdf", "receipt_pdf"])
def test_documents_need_a_login(client, contract, reading, name):
    paid(contract)
    response = client.get(url(name, contract))
    assert response.status_code == HTTPStatus.FOUND
    assert not IssuedDocument.objects.exists()


# Staff: the issued documents, read only and scoped ----------------------------------------------


@pytest.fixture
def staff_client(client, utility):
    staff = StaffFactory(utility=utility)
    staff.user_permissions.set(Permission.objects.filter(codename="view_issueddocument"))
    client.force_login(staff)
    return client


def issue_invoice(contract) -> IssuedDocument:
    reading = MeterReadingFactory(customer=contract, period_end=END)
    facts = documents.invoice_facts(contract.utility, contract, reading)
    return documents.issue(IssuedDocument.Kind.INVOICE, contract, END, facts)


def test_staff_see_their_utilitys_documents_and_open_the_pdf_as_issued(staff_client, utility):
    ours = issue_invoice(CustomerFactory(utility=utility, name="水道 太郎"))
    theirs = issue_invoice(
        CustomerFactory(utility=UtilityFactory(invoice_registration_number="T1111111111111"))
    )
    listing = staff_client.get(reverse("admin:billing_issueddocument_changelist"))
    assertContains(listing, ours.number)
    assertNotContains(listing, theirs.number)
    response = staff_client.get(reverse("admin:billing_issueddocument_pdf", args=[ours.pk]))
    assert response.content == bytes(ours.pdf)
    assert "no-store" in response["Cache-Control"]
    other = staff_client.get(reverse("admin:billing_issueddocument_pdf", args=[theirs.pk]))
    assert other.status_code == HTTPStatus.NOT_FOUND
    detail = staff_client.get(reverse("admin:billing_issueddocument_change", args=[theirs.pk]))
    assert detail.status_code == HTTPStatus.FOUND  # the admin's "does not exist" redirect


def test_staff_cannot_change_or_delete_an_issued_document(client, utility):
    staff = StaffFactory(utility=utility)
    staff.user_permissions.set(Permission.objects.filter(codename__endswith="_issueddocument"))
    client.force_login(staff)
    document = issue_invoice(CustomerFactory(utility=utility))
    before = bytes(document.pdf)
    delete = reverse("admin:billing_issueddocument_delete", args=[document.pk])
    assert client.post(delete, {"post": "yes"}).status_code == HTTPStatus.FORBIDDEN
    change = reverse("admin:billing_issueddocument_change", args=[document.pk])
    client.post(change, {"number": "X"})
    document.refresh_from_db()
    assert (document.number, bytes(document.pdf)) == (
        f"INV-{document.customer.number}-20261025-1",
        before,
    )


def test_two_requests_at_once_issue_one_document(monkeypatch, contract, reading):
    facts = documents.invoice_facts(contract.utility, contract, reading)
    render = documents.pdf.render

    def another_request_wins(stamped: dict) -> bytes:
        monkeypatch.setattr(documents.pdf, "render", render)
        documents.issue(IssuedDocument.Kind.INVOICE, contract, END, facts)
        return render(stamped)

    monkeypatch.setattr(documents.pdf, "render", another_request_wins)
    issued = documents.issue(IssuedDocument.Kind.INVOICE, contract, END, facts)
    assert issued.revision == 1
    assert IssuedDocument.objects.get() == issued


@time_machine.travel(NOW, tick=False)
def test_slip_pdf_tells_the_bill_as_the_slip_page_does(member_client, utility, contract, reading):
    paid(contract, status=Payment.Status.TRANSFER_FAILED, paid_on=None, paid_amount=0)
    page = member_client.get(reverse("billing:period", args=[utility.slug, contract.number, END]))
    assertContains(page, "口座振替ができませんでした")
    text = text_of(member_client.get(url("slip_pdf", contract)))
    assert "お支払い状況" in text
    assert "口座振替ができませんでした" in text
    assert "納付書を郵送します" in text
    assert "03-1234-5678" in text  # the utility's contact block
    assert "重ねてお支払いにならないようご注意ください" in text

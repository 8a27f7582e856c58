"""The documents a member downloads as PDF: 検針票, 適格請求書 and 領収済・収納済の証明.

Each document is first a dict of *facts*: every line it prints, as Japanese text, in order
(``billing/pdf.py`` lays them out). The slip is rendered on each request. An invoice or a
certificate is *issued*: stored with its number, the SHA-256 of its facts and of its bytes
(``IssuedDocument``). Asking again while the facts are unchanged returns the stored bytes;
once they change (a later import corrects the amount), the next request issues a new
revision with a new number, and the old one stays as it was issued.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import Utility

from . import pdf
from .bills import PaymentState
from .models import Customer, IssuedDocument, MeterReading, Payment
from .tariff import TAX_RATE_PERCENT, tax_included
from .templatetags.billing_format import cubic_metres_text, jdate_text, yen_text

# accounts.Member.TaxDeclaration.YES; billing never imports accounts (DESIGN.md).
TAX_DECLARED = "yes"
NUMBER_PREFIX = {IssuedDocument.Kind.INVOICE: "INV", IssuedDocument.Kind.RECEIPT: "RCP"}
# A payment in one of these states was received: it may be certified.
RECEIVED = [Payment.Status.PAID, Payment.Status.OVERPAID]
# Tries at issuing a revision number that another request may take at the same moment.
ISSUE_ATTEMPTS = 3


@dataclass(frozen=True)
class InvoiceIssuer:
    """One 適格請求書発行事業者 and what it charges: water, sewer, or both."""

    name: str
    registration_number: str
    items: list[tuple[str, int]]
    total: int
    tax: int


def may_ask_invoice(member, utility: Utility) -> bool:
    """Tell whether a member gets the 適格請求書: it files consumption tax, the utility issues them."""
    return member.tax_declaration == TAX_DECLARED and utility.issues_invoices


def invoice_issuers(utility: Utility, reading: MeterReading) -> list[InvoiceIssuer]:
    """Return who issues the invoice for a period: one body for both charges, or two.

    One issuer states the tax the CIS billed. Where the sewerage is another body's sale
    (its own registration number), each part is its own invoice and its tax is computed on
    that part once, as the invoice rules ask (one rounding per rate per invoice).
    """
    water, sewer = _("水道料金"), _("下水道使用料")
    sewer_number = utility.sewer_invoice_registration_number
    if not sewer_number or sewer_number == utility.invoice_registration_number:
        return [
            InvoiceIssuer(
                name=utility.name,
                registration_number=utility.invoice_registration_number,
                items=[(water, reading.water_charge), (sewer, reading.sewer_charge)],
                total=reading.total,
                tax=reading.tax,
            )
        ]
    return [
        InvoiceIssuer(
            name=utility.name,
            registration_number=utility.invoice_registration_number,
            items=[(water, reading.water_charge)],
            total=reading.water_charge,
            tax=tax_included(reading.water_charge),
        ),
        InvoiceIssuer(
            name=utility.sewer_invoice_issuer or utility.name,
            registration_number=sewer_number,
            items=[(sewer, reading.sewer_charge)],
            total=reading.sewer_charge,
            tax=tax_included(reading.sewer_charge),
        ),
    ]


def _period(start: datetime.date, end: datetime.date) -> str:
    return f"{jdate_text(start)}〜{jdate_text(end)}"


def _contract_rows(utility: Utility, contract: Customer) -> list[list[str]]:
    rows = [
        [utility.customer_number_label, contract.number],
        [_("お名前"), _("%(name)s 様") % {"name": contract.name}],
    ]
    if contract.address:
        place = f"{contract.address} {contract.building}".strip()
        rows.append([_("ご使用場所"), place])
    return rows


def slip_facts(
    utility: Utility, contract: Customer, reading: MeterReading, bill: PaymentState | None = None
) -> dict:
    """Return what the 検針票 prints: the HTML slip's contract, reading, charges and bill."""
    header = _contract_rows(utility, contract)
    header.append([_("口径"), f"{contract.meter_diameter_mm} mm"])
    if contract.meter_number:
        header.append([_("メーター番号"), contract.meter_number])
    return {
        "title": _("上下水道料金のお知らせ(検針票)"),
        "issuer": utility.name,
        "header": header,
        "sections": [
            {
                "heading": _("ご使用水量"),
                "rows": [
                    [_("ご使用期間"), _period(reading.period_start, reading.period_end)],
                    [_("検針日"), jdate_text(reading.read_on)],
                    [_("今回の指針"), cubic_metres_text(reading.current_index)],
                    [_("前回の指針"), cubic_metres_text(reading.previous_index)],
                    [_("使用水量"), cubic_metres_text(reading.usage_m3)],
                ],
            },
            {
                "heading": _("請求金額の内訳(税込)"),
                "rows": [
                    [_("水道料金"), yen_text(reading.water_charge)],
                    [_("下水道使用料"), yen_text(reading.sewer_charge)],
                    [_("請求金額"), yen_text(reading.total)],
                    [_("うち消費税"), yen_text(reading.tax)],
                ],
            },
            *_bill_section(utility, bill),
        ],
    }


def _bill_section(utility: Utility, bill: PaymentState | None) -> list[dict]:
    """The slip page's お支払い状況 (templates/billing/_payment_status.html), when there is a bill."""
    if bill is None:
        return []
    payment = bill.payment
    notes = []
    if bill.next_step:
        notes.append(bill.next_step)
        if bill.tone != "paid":
            notes.append(utility.contact_block)
    if bill.reflection_note:
        imported = timezone.localtime(payment.imported_at)
        day = f"{imported.month}月{imported.day}日"
        notes.append(
            _(
                "お支払いの反映には数日かかります。この表示は%(day)sまでに確認できたお支払いによるものです。すでにお支払いの場合は、重ねてお支払いにならないようご注意ください。"
            )
            % {"day": day}
        )
    rows = [
        [_("ご請求額"), yen_text(payment.billed_amount)],
        [_("納期限"), jdate_text(payment.due_date)],
        [_("お支払い方法"), payment.get_method_display()],
        [_("お支払い状況"), bill.words],
    ]
    return [{"heading": _("お支払い状況"), "rows": rows, "notes": notes}]


def invoice_facts(
    utility: Utility, contract: Customer, reading: MeterReading, payment: Payment | None = None
) -> dict:
    """Return what the 適格請求書 prints: the items 消費税法 57条の4 asks for, per issuer.

    With the period's bill (``payment``): where its 請求額 is not the reading's 請求金額 (a bill
    corrected by ``import_payments``), the invoice states it and says they differ (the tax
    stated is the charges'), so the facts change and the next request issues a new revision.
    A bill that agrees adds nothing, so the invoices issued before bills were compared stand.
    """
    rate = _("%(rate)s%%対象") % {"rate": TAX_RATE_PERCENT}
    sections = []
    for issuer in invoice_issuers(utility, reading):
        sections.append(
            {
                "heading": _("適格請求書発行事業者: %(name)s") % {"name": issuer.name},
                "rows": [
                    [_("登録番号"), issuer.registration_number],
                    [_("取引内容"), "・".join(item for item, _amount in issuer.items)],
                    *([item, yen_text(amount)] for item, amount in issuer.items),
                ],
            }
        )
        sections.append(
            {
                "heading": _("税率ごとの合計額と消費税額"),
                "table": {
                    "columns": [_("税率"), _("合計額(税込)"), _("消費税額")],
                    "rows": [[rate, yen_text(issuer.total), yen_text(issuer.tax)]],
                },
            }
        )
    facts = {
        "title": _("適格請求書(上下水道料金)"),
        "issuer": utility.name,
        "header": [
            [_("宛名"), _("%(name)s 様") % {"name": contract.name}],
            [utility.customer_number_label, contract.number],
            [_("取引期間"), _period(reading.period_start, reading.period_end)],
            [_("請求金額(税込)"), yen_text(reading.total)],
        ],
        "sections": sections,
    }
    if _differs(reading, payment):
        facts["header"].append([_("ご請求額"), yen_text(payment.billed_amount)])
        facts["footer"] = [_bill_difference(reading, payment)]
    return facts


def _differs(reading: MeterReading, payment: Payment | None) -> bool:
    return payment is not None and payment.billed_amount != reading.total


def _bill_difference(reading: MeterReading, payment: Payment) -> str:
    return _(
        "ご請求額(%(billed)s)は料金の請求金額(%(total)s)と異なります。"
        "差額の内容は、事業者にお問い合わせください。"
    ) % {"billed": yen_text(payment.billed_amount), "total": yen_text(reading.total)}


def receipt_facts(utility: Utility, contract: Customer, payment: Payment) -> dict:
    """Return what the 領収済・収納済の証明 prints: the bill, the day and the amount received."""
    header = _contract_rows(utility, contract)
    return {
        "title": _("領収済・収納済の証明"),
        "issuer": utility.name,
        "header": header,
        "sections": [
            {
                "heading": _("収納の内容"),
                "rows": [
                    [_("ご使用期間"), _period(payment.period_start, payment.period_end)],
                    [_("請求金額"), yen_text(payment.billed_amount)],
                    [_("納期限"), jdate_text(payment.due_date)],
                    [_("お支払い方法"), payment.get_method_display()],
                    [_("口座振替日・納付日"), jdate_text(payment.paid_on)],
                    [_("領収金額"), yen_text(payment.paid_amount)],
                ],
            }
        ],
        "footer": [_("上記の金額を領収し、収納済みであることを証明します。")],
    }


def received_payment(contract: Customer, period_end: datetime.date) -> Payment | None:
    """Return the period's payment if it was received (paid or overpaid), else None."""
    return Payment.objects.filter(
        customer=contract, period_end=period_end, status__in=RECEIVED
    ).first()


def is_received(payment: Payment | None) -> bool:
    """Tell whether a period's payment was received, so it may be certified."""
    return payment is not None and payment.status in RECEIVED


def fingerprint(facts: dict) -> str:
    """Return the SHA-256 of a document's facts, the same for the same printed text."""
    canonical = json.dumps(facts, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _stamped(
    facts: dict, number: str, issued_on: datetime.date, replaces: str | None = None
) -> dict:
    stamp = [
        _("書類番号: %(number)s") % {"number": number},
        _("発行日: %(day)s") % {"day": jdate_text(issued_on)},
    ]
    if replaces:
        # A revision says which document it corrects (the NTA's 修正した適格請求書).
        stamp.append(_("%(number)s を訂正したものです") % {"number": replaces})
    return {**facts, "stamp": stamp}


def issue(
    kind: IssuedDocument.Kind, contract: Customer, period_end: datetime.date, facts: dict
) -> IssuedDocument:
    """Return the issued document of these facts: the stored one, or a new revision."""
    digest = fingerprint(facts)
    for _attempt in range(ISSUE_ATTEMPTS):
        issued = IssuedDocument.objects.filter(customer=contract, kind=kind, period_end=period_end)
        latest = issued.order_by("-revision").first()
        if latest is not None and latest.facts_sha256 == digest:
            return latest
        revision = latest.revision + 1 if latest else 1
        number = f"{NUMBER_PREFIX[kind]}-{contract.number}-{period_end:%Y%m%d}-{revision}"
        issued_at = timezone.now()
        replaces = latest.number if latest else None
        body = pdf.render(_stamped(facts, number, timezone.localdate(issued_at), replaces))
        try:
            with transaction.atomic():
                return IssuedDocument.objects.create(
                    customer=contract,
                    kind=kind,
                    period_end=period_end,
                    revision=revision,
                    number=number,
                    issued_at=issued_at,
                    facts=facts,
                    facts_sha256=digest,
                    pdf=body,
                    pdf_sha256=hashlib.sha256(body).hexdigest(),
                )
        except IntegrityError:
            continue  # another request issued this revision a moment ago: read it
    raise RuntimeError("could not issue a document revision")


def filename(title: str, contract: Customer, period_end: datetime.date) -> str:
    """Return a PDF's file name as the member saves it: 「適格請求書_10000000000001_2026-10-25.pdf」."""
    return f"{title}_{contract.number}_{period_end.isoformat()}.pdf"

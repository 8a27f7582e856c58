"""PDF downloads of one period of a member's own contract: 検針票, 適格請求書, 領収済・収納済の証明.

A contract that is not the member's in this utility, a period it has no reading (or no
received payment) for, or an invoice the member may not have, is a 404: the same answer,
so nothing tells another contract's numbers or periods apart. Only on the member's own
contract does the slip of a period a correction moved lead on, as its page does.
"""

from __future__ import annotations

import datetime
import functools

from django.conf import settings
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone, translation
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import bills, documents, pdf
from .models import Customer, IssuedDocument, MeterReading, Payment
from .views import member_periods, period_now_holding


def in_japanese(view):
    """Write the document in Japanese whatever the page's language: what an issued invoice
    prints is stored with its hash, and a document in another language would be another
    revision; the tax office and the bank read Japanese. The slip page says so in English."""

    @functools.wraps(view)
    def japanese(*args, **kwargs):
        with translation.override(settings.LANGUAGE_CODE):
            return view(*args, **kwargs)

    return japanese


def _contract(request: HttpRequest, number: str) -> Customer:
    mine = Customer.objects.filter(
        utility=request.utility, member_links__member=request.user
    ).annotate(
        link_started_on=F("member_links__started_on"), link_ended_on=F("member_links__ended_on")
    )
    return get_object_or_404(mine, number=number)


def _seen(contract: Customer):
    """The periods the member's link lets them see, as on the usage pages (a PDF of the
    previous or the next occupant's period is a 404 like any other's)."""
    return member_periods(contract.link_started_on, contract.link_ended_on)


def _reading(contract: Customer, period_end: datetime.date) -> MeterReading:
    readings = MeterReading.objects.filter(_seen(contract), customer=contract)
    return get_object_or_404(readings, period_end=period_end)


def _pdf_response(body: bytes, name: str) -> HttpResponse:
    response = HttpResponse(body, content_type="application/pdf")
    # Shown in the browser's viewer, saved under its Japanese name (RFC 6266/5987 filename*).
    response["Content-Disposition"] = content_disposition_header(False, name)
    return response


@never_cache  # Cache-Control: private, no-store: a bill never sits in a shared proxy
@require_safe  # GET and HEAD (download managers and link checkers ask HEAD first)
@in_japanese
def slip_pdf(request: HttpRequest, number: str, period_end: datetime.date) -> HttpResponse:
    contract = _contract(request, number)
    try:
        reading = _reading(contract, period_end)
    except Http404:
        # The old slip address of a period a correction moved: the new one's, as the page does.
        moved = period_now_holding(contract, period_end)
        if moved is None:
            raise
        return redirect("billing:slip_pdf", request.utility.slug, contract.number, moved)
    payment = Payment.objects.filter(customer=contract, period_end=period_end).first()
    bill = bills.describe(payment, timezone.localdate()) if payment else None
    body = pdf.render(documents.slip_facts(request.utility, contract, reading, bill))
    return _pdf_response(body, documents.filename("検針票", contract, period_end))


@never_cache
@require_safe  # GET and HEAD (download managers and link checkers ask HEAD first)
@in_japanese
def invoice_pdf(request: HttpRequest, number: str, period_end: datetime.date) -> HttpResponse:
    if not documents.may_ask_invoice(request.user, request.utility):
        raise Http404("this member gets no qualified invoice")
    contract = _contract(request, number)
    reading = _reading(contract, period_end)
    payment = Payment.objects.filter(customer=contract, period_end=period_end).first()
    facts = documents.invoice_facts(request.utility, contract, reading, payment)
    issued = documents.issue(IssuedDocument.Kind.INVOICE, contract, period_end, facts)
    return _pdf_response(bytes(issued.pdf), documents.filename("適格請求書", contract, period_end))


@never_cache
@require_safe  # GET and HEAD (download managers and link checkers ask HEAD first)
@in_japanese
def receipt_pdf(request: HttpRequest, number: str, period_end: datetime.date) -> HttpResponse:
    contract = _contract(request, number)
    payment = documents.received_payment(contract, period_end)
    if payment is None or not Payment.objects.filter(_seen(contract), pk=payment.pk).exists():
        raise Http404("no payment received for this period")
    facts = documents.receipt_facts(request.utility, contract, payment)
    issued = documents.issue(IssuedDocument.Kind.RECEIPT, contract, period_end, facts)
    name = documents.filename("領収済・収納済の証明", contract, period_end)
    return _pdf_response(bytes(issued.pdf), name)

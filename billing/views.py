"""Usage and charge pages for a logged-in member's own contracts.

Every page costs the same few queries whatever the history length: the member's contracts
(one), then a bounded slice of readings (LIMIT) or one page of them. Pages under
``usage/<number>/`` show only a contract linked to the member in this utility: any other
number, however it is typed, is a 404.
"""

from __future__ import annotations

import csv
import datetime
import functools
from collections.abc import Callable, Iterator
from typing import NamedTuple

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db.models import Count, F, Max, Min, Q, Window
from django.db.models.functions import RowNumber
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from portal import furigana
from portal.models import Utility
from portal.ratelimit import RateLimited

from . import bills, charts, documents, notices, pagecache, usage, watch, web_slip
from .forms import WatchForm, WebSlipForm
from .imports import READING_COLUMNS
from .models import (
    Customer,
    MeterReading,
    MeterReadingQuerySet,
    Notice,
    Payment,
    PaymentQuerySet,
    Watch,
)
from .tariff import TAX_RATE_PERCENT
from .templatetags.billing_format import jmonth

SELECTED_CONTRACT_SESSION_KEY = "billing.contract"
HISTORY_PAGE_SIZE = 24
PAYMENTS_PAGE_SIZE = 24
CHART_PERIODS = 24
# The chart pairs each of its periods with the one a year earlier: 13 more periods cover
# monthly billing (and leave slack for one missing month).
CHART_WINDOW = CHART_PERIODS + 13
# Latest period, the previous one and the same period last year (monthly: 12 back).
RECENT_WINDOW = 14
# Any date no real period ends on: replaced in one reversed URL to make each row's link.
_URL_PLACEHOLDER = datetime.date(1, 1, 1)
# Where the dashboard's お知らせ go: put in as the page is served, since they change with the
# clock and with what the member has read, not with the readings the cached page is built from.
NOTICES_PLACEHOLDER = b"<!--portal:notices-->"


def _contracts(request: HttpRequest) -> list[Customer]:
    """The member's contracts in this utility, by number: every usage page starts here.

    The SQL is the ORM's, compiled once: compiling it took ~0.8 ms of CPU a page, more than
    fetching the page from the cache (issue 17).
    """
    sql, order = _contracts_sql()
    values = (request.user.pk, request.utility.pk)
    return list(Customer.objects.raw(sql, [values[i] for i in order]))


@functools.cache
def _contracts_sql() -> tuple[str, list[int]]:
    """Return the query of ``_contracts`` and where the member's and utility's ids go in it."""
    member, utility = -101, -202  # stand-ins, told apart in the compiled parameters
    # The link's start and end (a completed 使用開始・名義変更, 使用中止) come with each
    # contract, from the same join.
    query = (
        Customer.objects.filter(member_links__member=member, utility=utility)
        .annotate(
            link_started_on=F("member_links__started_on"),
            link_ended_on=F("member_links__ended_on"),
        )
        .order_by("number")
    )
    sql, params = query.query.sql_with_params()
    return sql, [{member: 0, utility: 1}[param] for param in params]


def _choose(request: HttpRequest, contracts: list[Customer], number: str | None) -> Customer | None:
    """Return the contract named in the URL (404 unless the member's), else the one last chosen."""
    if number is not None:
        contract = next((c for c in contracts if c.number == number), None)
        if contract is None:
            raise Http404("not one of this member's contracts")
    else:
        chosen = request.session.get(SELECTED_CONTRACT_SESSION_KEY)
        contract = next(
            (c for c in contracts if c.pk == chosen), contracts[0] if contracts else None
        )
    if contract is not None and request.session.get(SELECTED_CONTRACT_SESSION_KEY) != contract.pk:
        request.session[SELECTED_CONTRACT_SESSION_KEY] = contract.pk
    return contract


def member_periods(started_on: datetime.date | None, ended_on: datetime.date | None) -> Q:
    """The periods (readings or bills) a member's link lets them see: those ended from the
    day it started (a 使用開始・名義変更 brought them the number) and begun by the day it
    ended (a 使用中止): the previous and the next occupant's periods are not theirs."""
    seen = Q()
    if started_on is not None:
        seen &= Q(period_end__gte=started_on)
    if ended_on is not None:
        seen &= Q(period_start__lte=ended_on)
    return seen


def _link_periods(contract: Customer) -> Q:
    return member_periods(
        getattr(contract, "link_started_on", None), getattr(contract, "link_ended_on", None)
    )


def _readings(contract: Customer) -> MeterReadingQuerySet:
    """The contract's periods the member may see (``member_periods``)."""
    return MeterReading.objects.filter(_link_periods(contract), customer=contract)


def _bills(contract: Customer) -> PaymentQuerySet:
    """The contract's bills the member may see: as ``_readings``."""
    return Payment.objects.filter(_link_periods(contract), customer=contract)


def _seen_periods(contracts: list[Customer]) -> Q:
    """``_readings`` of several contracts as one condition."""
    bounded = [c for c in contracts if _link_periods(c)]
    seen = Q(customer__in=[c for c in contracts if c not in bounded])
    for contract in bounded:
        seen |= Q(_link_periods(contract), customer=contract)
    return seen


def _recent_by_contract(contracts: list[Customer]) -> dict[int, list[MeterReading]]:
    """Return each contract's RECENT_WINDOW latest periods, newest first, in one query."""
    recent: dict[int, list[MeterReading]] = {contract.pk: [] for contract in contracts}
    rows = (
        MeterReading.objects.filter(_seen_periods(contracts))
        .annotate(
            recency=Window(
                RowNumber(), partition_by=[F("customer_id")], order_by=F("period_end").desc()
            )
        )
        .filter(recency__lte=RECENT_WINDOW)
        .order_by("customer_id", "-period_end")
    )
    for reading in rows:
        recent[reading.customer_id].append(reading)
    return recent


def _remember(request: HttpRequest, contract_pk: int | None) -> None:
    """Keep the contract shown as the one the dashboard opens with next time."""
    if (
        contract_pk is not None
        and request.session.get(SELECTED_CONTRACT_SESSION_KEY) != contract_pk
    ):
        request.session[SELECTED_CONTRACT_SESSION_KEY] = contract_pk


@never_cache
@require_safe
def dashboard(request: HttpRequest, number: str | None = None) -> HttpResponse:
    # Without a number the page shows the contract last chosen (kept in the session).
    chosen = request.session.get(SELECTED_CONTRACT_SESSION_KEY) if number is None else None
    # The お知らせ's cache entries come in the same round trip as the page's.
    response, contract_pk, found = pagecache.page(
        request,
        f"dashboard:{chosen}",
        lambda extra: _dashboard(request, number, extra),
        also=notices.cache_entries(request.user, request.utility),
    )
    _remember(request, contract_pk)
    _put_notices(request, response, found)
    return response


def _put_notices(request: HttpRequest, response: HttpResponse, found: list) -> None:
    shown = notices.for_member(request.user, request.utility, found)
    items = tuple(
        (
            _NoticeItem(
                s.notice.pk,
                s.notice.title,
                s.notice.important,
                s.notice.category,
                s.notice.publish_at,
            ),
            s.unread,
        )
        for s in shown[: notices.DASHBOARD_NOTICES]
    )
    fragment = _notices_fragment(
        request.utility.slug,
        items,
        sum(1 for s in shown if s.unread),
        get_language(),
        timezone.get_current_timezone_name(),
        get_script_prefix(),
    )
    response.content = response.content.replace(NOTICES_PLACEHOLDER, fragment)


class _NoticeItem(NamedTuple):
    """What the dashboard shows of a notice: every field is in the rendered fragment's key."""

    pk: int
    title: str
    important: bool
    category: str
    publish_at: datetime.datetime

    def get_category_display(self) -> str:
        return Notice.Category(self.category).label


@functools.lru_cache(maxsize=1024)
def _notices_fragment(
    slug: str,
    items: tuple[tuple[_NoticeItem, bool], ...],
    unread: int,
    language: str | None,
    time_zone: str,
    script_prefix: str,
) -> bytes:
    """The dashboard's お知らせ, rendered once per process for each set of values it shows.

    Rendering it was half of a dashboard served from the page cache (issue 17's profile).
    Rendered from a context holding only the key (as portal/templatetags/site_parts.py does),
    so a notice saved with a new title or date is a new key, with nothing to invalidate; the
    language, time zone and script prefix are the active ones.
    """
    context = {
        "shown": [notices.Shown(item, unread_mark) for item, unread_mark in items],
        "unread": unread,
        "utility": {"slug": slug},
    }
    return render_to_string("billing/_dashboard_notices.html", context).encode()


def _dashboard(
    request: HttpRequest, number: str | None, extra: dict
) -> tuple[HttpResponse, int | None]:
    contracts = _contracts(request)
    contract = _choose(request, contracts, number)
    utility = request.utility
    summaries = {
        pk: usage.summarise(
            recent,
            leak_ratio_percent=utility.leak_ratio_percent,
            leak_min_increase_m3=utility.leak_min_increase_m3,
        )
        for pk, recent in _recent_by_contract(contracts).items()
    }
    # A leak is told at the contract it concerns, whichever contract the page shows.
    leaks = [
        (c, summaries[c.pk]) for c in contracts if getattr(summaries[c.pk], "possible_leak", False)
    ]
    latest_bill = _bills(contract).latest_first().first() if contract else None
    context = {
        "contracts": contracts,
        "contract": contract,
        "summary": summaries[contract.pk] if contract else None,
        "leaks": leaks,
        "bill": _bill(latest_bill),
        **extra,
    }
    response = render(request, "billing/dashboard.html", context)
    return response, contract.pk if contract else None


def _bill(payment: Payment | None) -> bills.PaymentState | None:
    return None if payment is None else bills.describe(payment, timezone.localdate())


class _CountedReadings:
    """A contract's readings, newest first, whose number is already known (no COUNT query)."""

    def __init__(self, contract: Customer, total: int) -> None:
        self.contract, self.total = contract, total

    def count(self) -> int:
        return self.total

    def __getitem__(self, bounds: slice) -> list[MeterReading]:
        return list(_readings(self.contract).latest_first()[bounds])


def _period_url(utility: Utility, contract: Customer) -> Callable[[datetime.date], str]:
    """Return a maker of slip URLs: reverse() once per page rather than once per table row."""
    template = reverse("billing:period", args=[utility.slug, contract.number, _URL_PLACEHOLDER])
    placeholder = _URL_PLACEHOLDER.isoformat()
    return lambda period_end: template.replace(placeholder, period_end.isoformat())


@never_cache
@require_safe
def history(request: HttpRequest, number: str) -> HttpResponse:
    response, contract_pk, _ = pagecache.page(
        request, "history", lambda extra: _history(request, number, extra)
    )
    _remember(request, contract_pk)
    return response


def _history(request: HttpRequest, number: str, extra: dict) -> tuple[HttpResponse, int]:
    contracts = _contracts(request)
    contract = _choose(request, contracts, number)
    # One query: the chart's periods, each carrying how many periods there are in all.
    recent = list(
        _readings(contract)
        .latest_first()
        .annotate(periods_in_all=Window(Count("id")))[:CHART_WINDOW]
    )
    chart_rows = [
        (jmonth(period.period_end), period.usage_m3, last_year.usage_m3 if last_year else None)
        for period, last_year in usage.with_last_year(recent, CHART_PERIODS)
    ]
    chart_table = [
        (label, value, last_year, None if last_year is None else usage.compare(value, last_year))
        for label, value, last_year in chart_rows
    ]
    # The page is one more query of at most a page of rows, whatever the history's length.
    total = recent[0].periods_in_all if recent else 0
    paginator = Paginator(_CountedReadings(contract, total), HISTORY_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    period_url = _period_url(request.utility, contract)
    context = {
        "contracts": contracts,
        "contract": contract,
        "chart": charts.usage_chart(chart_rows) if chart_rows else None,
        "chart_table": chart_table,
        "page_obj": page,
        "periods": [(period_url(reading.period_end), reading) for reading in page],
        "page_range": paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1),
        **extra,
    }
    return render(request, "billing/history.html", context), contract.pk


def period_now_holding(contract: Customer, day: datetime.date) -> datetime.date | None:
    """The end of the member's period that a mailed link to a period a correction moved
    (replaces_period_end) or deleted leads to: the one holding ``day``, or the last one before
    it; None if there is none. A day outside the member's link is a 404, not theirs to be led."""
    ended_on = getattr(contract, "link_ended_on", None)
    if ended_on is not None and day > ended_on:
        raise Http404  # after the member moved out (使用中止)
    started_on = getattr(contract, "link_started_on", None)
    if started_on is not None and day < started_on:
        raise Http404  # before the member moved in (使用開始・名義変更)
    periods = _readings(contract).filter(period_start__lte=day).order_by("-period_end")
    return periods.values_list("period_end", flat=True).first()


@never_cache
@require_safe
def period(request: HttpRequest, number: str, period_end: datetime.date) -> HttpResponse:
    contracts = _contracts(request)
    contract = _choose(request, contracts, number)
    utility = request.utility
    reading = _readings(contract).filter(period_end=period_end).first()
    if reading is None:
        moved = period_now_holding(contract, period_end)
        if moved is None:
            return redirect("billing:history", utility.slug, contract.number)
        return redirect("billing:period", utility.slug, contract.number, moved)
    # The periods either side in one query (the bill of the period costs the one it saves).
    around = _readings(contract).aggregate(
        previous_end=Max("period_end", filter=Q(period_end__lt=period_end)),
        next_end=Min("period_end", filter=Q(period_end__gt=period_end)),
    )
    payment = _bills(contract).filter(period_end=period_end).first()
    context = {
        "contracts": contracts,
        "contract": contract,
        "reading": reading,
        "bill": _bill(payment),
        **around,
        "show_invoice": documents.may_ask_invoice(request.user, utility),
        "invoice_issuers": documents.invoice_issuers(utility, reading),
        "receipt_available": documents.is_received(payment),
        "tax_rate_percent": TAX_RATE_PERCENT,
    }
    return render(request, "billing/period.html", context)


@never_cache
@require_safe
def payments(request: HttpRequest, number: str) -> HttpResponse:
    """支払い履歴: the contract's bills, newest first, a page of them at a time."""
    response, contract_pk, _ = pagecache.page(
        request, "payments", lambda extra: _payments(request, number, extra)
    )
    _remember(request, contract_pk)
    return response


def _payments(request: HttpRequest, number: str, extra: dict) -> tuple[HttpResponse, int]:
    contracts = _contracts(request)
    contract = _choose(request, contracts, number)
    # Two queries (the count, one page of rows), whatever the history's length.
    paginator = Paginator(_bills(contract).latest_first(), PAYMENTS_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    today = timezone.localdate()
    shown = [bills.describe(payment, today) for payment in page]
    # The newest bill, if it asks something of the resident, is told in full above the list.
    first = shown[0] if shown and page.number == 1 else None
    context = {
        "contracts": contracts,
        "contract": contract,
        "page_obj": page,
        "bills": shown,
        "attention": first if first and (first.next_step or first.reflection_note) else None,
        "page_range": paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1),
        **extra,
    }
    return render(request, "billing/payments.html", context), contract.pk


class _Echo:
    """A write-only file for csv.writer: hands each formatted line straight back."""

    def write(self, value: str) -> str:
        return value


def csv_lines(contract: Customer, number_label: str) -> Iterator[str]:
    """Yield the whole history of one contract as CSV lines, oldest first, BOM first."""
    writer = csv.writer(_Echo())
    yield "\ufeff"  # Excel in Japan reads UTF-8 only with a BOM; without it, mojibake
    header = [
        number_label,
        _("ご使用期間(開始)"),
        _("ご使用期間(終了)"),
        _("検針日"),
        _("前回の指針"),
        _("今回の指針"),
        _("使用水量(m³)"),
        _("水道料金(円)"),
        _("下水道使用料(円)"),
        _("うち消費税(円)"),
        _("請求金額(円)"),
    ]
    # Column names, not sentences: やさしい日本語's readings left out (「使用水量(m³)」, not
    # 「使用水量(しようすいりょう)(m³)」), as a spreadsheet holds no ruby.
    yield writer.writerow([furigana.strip(str(column)) for column in header])
    rows = (
        _readings(contract)
        .order_by("period_end")
        .values_list(*READING_COLUMNS[2:])  # the fields as the CIS export names them
    )
    for row in rows.iterator(chunk_size=1000):
        yield writer.writerow([contract.number, *row])


@never_cache
@require_safe
def history_csv(request: HttpRequest, number: str) -> StreamingHttpResponse:
    body, contract_pk = pagecache.download(request, "csv", lambda: _csv(request, number))
    _remember(request, contract_pk)
    # Still streamed (one chunk): the whole history is a few kilobytes, at most tens.
    response = StreamingHttpResponse([body], content_type="text/csv; charset=utf-8")
    # The number is the URL's, served only once it proved to be one of the member's.
    response["Content-Disposition"] = f'attachment; filename="usage_{number}.csv"'
    return response


def _csv(request: HttpRequest, number: str) -> tuple[bytes, int]:
    contract = _choose(request, _contracts(request), number)
    label = request.utility.number_label_text
    return "".join(csv_lines(contract, label)).encode(), contract.pk


# お知らせ ---------------------------------------------------------------------------------------


@never_cache
@require_safe
def notice_list(request: HttpRequest) -> HttpResponse:
    shown = notices.for_member(request.user, request.utility)
    return render(request, "billing/notice_list.html", {"shown": shown})


@never_cache
@require_safe
def notice(request: HttpRequest, pk: int) -> HttpResponse:
    found = notices.open_notice(request.user, request.utility, pk)
    if found is None:
        raise Http404("no notice this member may see")
    return render(request, "billing/notice.html", {"notice": found})


# Web明細 ----------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def web_slip_choice(request: HttpRequest, number: str) -> HttpResponse:
    utility = request.utility
    contracts = _contracts(request)
    contract = _choose(request, contracts, number)
    slip = getattr(contract, "web_slip", None)  # None before the first choice
    stopped = bool(slip and slip.paper_stopped)
    # A utility that stops offering Web明細 refuses new stops only: a member whose paper is
    # stopped still sees it and can have the paper again (README, Web明細).
    if not utility.offers_web_slip and not stopped:
        raise Http404("this utility offers no Web明細")
    current = WebSlipForm.WEB if stopped else WebSlipForm.PAPER
    data = request.POST if request.method == "POST" else None  # an empty POST is told too
    form = WebSlipForm(data, initial={"delivery": current})
    if form.is_valid():
        stop = form.cleaned_data["delivery"] == WebSlipForm.WEB
        if stop == stopped:
            messages.info(request, _("変更はありません。"))
        else:
            web_slip.choose(request.user, contract, paper_stopped=stop)
            if stop:
                messages.success(request, _("紙の検針票を止めました(Web明細)。"))
            else:
                messages.success(request, _("紙の検針票のお届けを再開します。"))
        return redirect("billing:contract", utility.slug, contract.number)
    context = {"contracts": contracts, "contract": contract, "slip": slip, "form": form}
    return render(request, "billing/web_slip_choice.html", context)


# 見守り -------------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def watch_settings(request: HttpRequest) -> HttpResponse:
    """The member's 見守りメール: set or replace the second address, or remove it."""
    member = request.user
    current = Watch.objects.filter(member=member).first()
    if request.method == "POST" and "remove" in request.POST:
        watch.remove(member)
        messages.success(request, _("見守りメールを解除しました。"))
        return redirect("billing:watch", request.utility.slug)
    form = WatchForm(request.POST or None, member_email=member.email)
    if form.is_valid() and watch.stopped_recently(member, form.cleaned_data["email"]):
        form.add_error(
            "email",
            _(
                "この方は見守りメールを停止されています。停止から%(days)s日間は、"
                "同じアドレスを登録できません。"
            )
            % {"days": settings.PORTAL_WATCH_STOPPED_DAYS},
        )
    if form.is_valid():
        try:
            watch.check_consent_mail(request, member, form.cleaned_data["email"])
        except RateLimited as exc:
            form.add_error(
                "email",
                _(
                    "見守りメールの確認は、しばらく送れません。%(minutes)s分ほどたってから、"
                    "もう一度お試しください。"
                )
                % {"minutes": exc.retry_minutes},
            )
            context = {"form": form, "watch": current}
            return render(request, "billing/watch.html", context, status=429)
    if form.is_valid():
        watch.register(member, form.cleaned_data["email"], form.cleaned_data["threshold_m3"])
        messages.success(
            request,
            _(
                "見守る方に確認のメールを送りました。その方が同意すると、お知らせが届くようになります。"
            ),
        )
        return redirect("billing:watch", request.utility.slug)
    return render(request, "billing/watch.html", {"form": form, "watch": current})


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def watch_consent(request: HttpRequest, token: str) -> HttpResponse:
    """The second person reads what they agree to and agrees (the link then is used up)."""
    utility = request.utility
    try:
        found = watch.by_consent_link(utility, token)
        if request.method == "POST":
            found = watch.consent(utility, token)
            return render(request, "billing/watch_consented.html", {"watch": found})
    except watch.LinkExpired:
        return render(request, "billing/watch_link_bad.html", {"expired": True}, status=400)
    except watch.LinkInvalid:
        return render(request, "billing/watch_link_bad.html", {"expired": False}, status=400)
    context = {"watch": found, "areas": watch.areas(found.member)}
    return render(request, "billing/watch_consent.html", context)


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def watch_stop(request: HttpRequest, token: str) -> HttpResponse:
    """The second person stops the mails (a button, so a mail scanner's GET stops nothing)."""
    utility = request.utility
    try:
        found = watch.by_stop_link(utility, token)
        if request.method == "POST":
            found = watch.stop(utility, token)
    except watch.LinkInvalid:
        # Forged, or cut short by a mail client: it stopped nothing, so it says nothing did.
        context = {"expired": False, "stop": True}
        return render(request, "billing/watch_link_bad.html", context, status=400)
    return render(request, "billing/watch_stopped.html", {"watch": found})

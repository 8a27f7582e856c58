"""使用中止・使用開始: 入力 → 確認 → 完了 with a 受付番号, and the status page a mail links to.

Guests and members use the same pages; a signed-in member's move-out names one of their own
contracts (any other number is a 404). What was typed waits in the session between 入力 and
確認 and is checked again when 「申し込む」 is pressed, so a date that became too early or a
duplicate made meanwhile is refused there too, and nothing half-saved remains.
"""

from __future__ import annotations

from http import HTTPStatus

from django.contrib.auth.decorators import login_not_required
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from accounts.ratelimit import RateLimited
from accounts.views.responses import rate_limited_response
from billing.models import Customer
from billing.templatetags.billing_format import jdate_text
from portal.decorators import mailed_link

from . import services
from .forms import MOVE_IN_TAKEN, MoveInForm, MoveOutForm, NameChangeForm
from .models import MoveApplication, handed_over, settings_for

PENDING_KEY = "moving.pending"
DONE_KEY = "moving.done"
Kind = MoveApplication.Kind
FORMS = {Kind.MOVE_OUT: MoveOutForm, Kind.MOVE_IN: MoveInForm, Kind.NAME_CHANGE: NameChangeForm}
MEMBER_URLS = {
    Kind.MOVE_OUT: "moving:member_move_out",
    Kind.NAME_CHANGE: "moving:member_name_change",
}


def _member(request: HttpRequest):
    """The signed-in resident of this utility, or None for a guest."""
    user = request.user
    if user.is_authenticated and user.is_resident and user.utility_id == request.utility.pk:
        return user
    return None


def _settings(request: HttpRequest, kind: str | None = None):
    found = settings_for(request.utility)
    if found is None or (kind is not None and not found.offers(kind)):
        raise Http404("this utility takes no such application online")
    return found


def _own_contract(request: HttpRequest, member, number: str) -> Customer:
    """The member's contract of that number, with its link's end; else a 404."""
    contract = (
        Customer.objects.filter(member_links__member=member, utility=request.utility)
        .filter(number=number)
        .annotate(link_ended_on=F("member_links__ended_on"), link_handed_over=handed_over())
        .first()
    )
    if contract is None:
        raise Http404("not one of this member's contracts")
    return contract


@login_not_required
@never_cache
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    settings = _settings(request)
    member = _member(request)
    contracts = []
    if member is not None:
        contracts = list(
            Customer.objects.filter(member_links__member=member, utility=request.utility)
            .annotate(link_ended_on=F("member_links__ended_on"), link_handed_over=handed_over())
            .order_by("number")
        )
    return render(
        request,
        "moving/index.html",
        {
            "settings": settings,
            "member": member,
            "contracts": contracts,
            "today": timezone.localdate(),
        },
    )


def _form(kind: str, request: HttpRequest, settings, member, contract=None, data=None):
    form_class = FORMS[kind]
    form = form_class(data, settings=settings, member=member, contract=contract)
    if data is None:
        pending = request.session.get(PENDING_KEY)
        if (
            pending
            and pending["kind"] == kind
            and pending.get("number") == getattr(contract, "number", None)
        ):
            form = form_class(
                initial=pending["data"], settings=settings, member=member, contract=contract
            )
        elif kind == Kind.MOVE_OUT and member is not None:
            form.initial.setdefault("contact_phone", member.phone)
    return form


def _apply_page(request: HttpRequest, kind: str, contract=None) -> HttpResponse:
    settings = _settings(request, kind)
    member = _member(request)
    data = request.POST if request.method == "POST" else None
    form = _form(kind, request, settings, member, contract, data)
    if data is not None:
        try:
            if member is None:
                services.check_client_rate(request)
            valid = form.is_valid()
            if valid and member is None:
                services.check_address_rate(request, form.cleaned_data["email"])
        except RateLimited as exc:
            back = (reverse("moving:index", args=[request.utility.slug]), _("引越しの手続きへ戻る"))
            return rate_limited_response(request, exc, back=back)
        if valid:
            request.session[PENDING_KEY] = {
                "kind": kind,
                "number": getattr(contract, "number", None),
                "data": {
                    name: (value.isoformat() if hasattr(value, "isoformat") else value)
                    for name, value in form.cleaned_data.items()
                },
            }
            return redirect("moving:confirm", request.utility.slug)
    context = {
        "form": form,
        "kind": kind,
        "text": settings.text(kind),
        "contract": contract,
        "action": _form_url(request, kind, getattr(contract, "number", None)),
    }
    return render(request, "moving/apply.html", context)


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def move_out(request: HttpRequest) -> HttpResponse:
    if _member(request) is not None:  # a member picks one of their contracts
        return redirect("moving:index", request.utility.slug)
    return _apply_page(request, Kind.MOVE_OUT)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def member_move_out(request: HttpRequest, number: str) -> HttpResponse:
    contract = _own_contract(request, request.user, number)
    return _apply_page(request, Kind.MOVE_OUT, contract)


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def move_in(request: HttpRequest) -> HttpResponse:
    return _apply_page(request, Kind.MOVE_IN)


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def name_change(request: HttpRequest) -> HttpResponse:
    if _member(request) is not None:  # a member picks one of their contracts
        return redirect("moving:index", request.utility.slug)
    return _apply_page(request, Kind.NAME_CHANGE)


@never_cache
@require_http_methods(["GET", "POST"])
def member_name_change(request: HttpRequest, number: str) -> HttpResponse:
    contract = _own_contract(request, request.user, number)
    return _apply_page(request, Kind.NAME_CHANGE, contract)


def _form_url(request: HttpRequest, kind: str, number: str | None) -> str:
    """The input page of ``kind`` (a member's move-out or 名義変更 names its contract)."""
    slug = request.utility.slug
    if number:
        return reverse(MEMBER_URLS[kind], args=[slug, number])
    return reverse(f"moving:{kind}", args=[slug])


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING_KEY)
    if not pending:
        return redirect("moving:index", request.utility.slug)
    kind = pending["kind"]
    settings = _settings(request, kind)
    member = _member(request)
    contract = None
    if pending.get("number"):
        if member is None:
            return redirect("moving:index", request.utility.slug)
        contract = _own_contract(request, member, pending["number"])
    data = {k: v for k, v in pending["data"].items() if v not in (None, False)}
    form = _form(kind, request, settings, member, contract, data)
    again = {
        "form": form,
        "kind": kind,
        "text": settings.text(kind),
        "contract": contract,
        "action": _form_url(request, kind, pending.get("number")),
    }
    if not form.is_valid():  # e.g. the date is now too early, or a duplicate came meanwhile
        return render(request, "moving/apply.html", again)
    if request.method == "POST":
        try:
            application = services.apply(
                request, kind, form.cleaned_data, member=member, contract=contract
            )
        except services.Duplicate:
            form.add_error("move_date", _duplicate_words(kind, form.cleaned_data["move_date"]))
            return render(request, "moving/apply.html", again)
        del request.session[PENDING_KEY]
        request.session[DONE_KEY] = application.pk
        return redirect("moving:done", request.utility.slug)
    rows = [
        (form[name].label, _shown(form, name))
        for name in form.fields
        if (name != "wants_membership" or kind != Kind.MOVE_OUT)
        and (name != "relationship_note" or form.cleaned_data.get(name))
    ]
    context = {
        "rows": rows,
        "kind": kind,
        "kind_label": Kind(kind).label,
        "contract": contract,
        "member": member,
        "back_url": again["action"],
    }
    return render(request, "moving/confirm.html", context)


def _duplicate_words(kind: str, day) -> str:
    """Two requests at once: the database kept the other (the form's own check came first)."""
    if kind == Kind.MOVE_IN:
        return str(MOVE_IN_TAKEN) % {"day": f"{day.year}年{day.month}月{day.day}日"}
    if kind == Kind.NAME_CHANGE:
        return _("この契約のこの日の名義変更は、すでに受け付けています。")
    return _("この契約のこの日の使用中止は、すでに受け付けています。")


def _shown(form, name: str) -> str:
    value = form.cleaned_data.get(name)
    field = form.fields[name]
    if isinstance(value, bool):
        return _("はい") if value else _("いいえ")
    if hasattr(field, "choices") and value:
        return str(dict(field.choices).get(value, value))
    if hasattr(value, "year"):
        return jdate_text(value)  # the page's language, as the done page and the mail
    return value or ""


@login_not_required
@never_cache
@require_safe
def done(request: HttpRequest) -> HttpResponse:
    pk = request.session.get(DONE_KEY)
    if pk is None:
        return redirect("moving:index", request.utility.slug)
    application = get_object_or_404(MoveApplication, pk=pk, utility=request.utility)
    return render(request, "moving/done.html", {"application": application})


@login_not_required
@mailed_link
@never_cache
@require_safe
def status(request: HttpRequest, token: str) -> HttpResponse:
    """Status only: kind, 受付番号, day and state, nothing the applicant typed."""
    pk = services.read_status_token(token)
    application = (
        MoveApplication.objects.filter(pk=pk, utility=request.utility).first() if pk else None
    )
    if application is None:
        return render(request, "moving/status_bad.html", status=HTTPStatus.BAD_REQUEST)
    return render(request, "moving/status.html", {"application": application})

"""会員情報: the member's own details and one page per change; services do the work."""

from __future__ import annotations

import functools
from collections.abc import Callable
from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_safe

from portal import words
from portal.decorators import mailed_link

from .. import challenges
from ..forms.profile import (
    ContractAddForm,
    EmailChangeForm,
    MailChoicesForm,
    NameForm,
    PasswordChangeForm,
    SecretQuestionForm,
    TaxDeclarationForm,
    WithdrawForm,
)
from ..forms.signup import EmailCodeForm
from ..mail_failures import failed_mails
from ..models import SECRET_QUESTIONS, ContractRequest
from ..ratelimit import RateLimited
from ..services import profile as services
from ..services.base import NotStarted
from .responses import rate_limited_response

EMAIL_CHANGE_REASONS = {
    NotStarted: "not_started",
    challenges.ChallengeInvalid: "invalid",
    challenges.ChallengeExpired: "expired",
    challenges.ChallengeUsed: "used",
    challenges.CodeDead: "code_used_up",
    services.EmailChangeFailed: "failed",
}
WRONG_CODE = (challenges.CodeWrong, challenges.ChallengeExpired)
PASSWORD_FIELDS = ("current_password", "password", "password_confirm")


def profile_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Keep a settings page out of caches and turn the services' refusals into pages."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except RateLimited as exc:
            return rate_limited_response(request, exc)
        except tuple(EMAIL_CHANGE_REASONS) as exc:
            return render(
                request,
                "accounts/profile_email_restart.html",
                {"reason": EMAIL_CHANGE_REASONS[type(exc)]},
                status=HTTPStatus.BAD_REQUEST,
            )

    return never_cache(wrapped)


def _back_to_profile(request: HttpRequest, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("accounts:profile", request.utility.slug)


@profile_view
@require_safe
def profile(request: HttpRequest) -> HttpResponse:
    member = request.user
    context = {
        "member": member,
        "question": dict(SECRET_QUESTIONS).get(member.secret_question, ""),
        "contracts": member.contracts.filter(utility=request.utility)
        .select_related("web_slip")
        .order_by("number"),
        "requests": member.contract_requests.filter(status=ContractRequest.Status.PENDING),
        "fixed_rows": words.fields_in_a_sentence(
            _rows_changed_by_the_office(member, request.utility)
        ),
        "failed_mails": failed_mails(member),
        "bill_mail": member.wants_mail("bill"),
        "alert_mail": member.wants_mail("alert"),
        "notice_mail": member.wants_mail("notice"),
    }
    return render(request, "accounts/profile.html", context)


def _rows_changed_by_the_office(member, utility) -> list[str]:
    """The rows 会員情報 shows without a 「変更する」 link, as its note names them: only those
    the page shows (Nayoro has no 住所; its お名前 is a nickname the member changes)."""
    rows = [] if utility.name_is_nickname else [pgettext("a field in a sentence", "お名前")]
    if member.name_kana:
        rows.append(pgettext("a field in a sentence", "お客様氏名カナ"))
    if utility.asks_address:
        rows.append(pgettext("a field in a sentence", "住所"))
    return [*rows, pgettext("a field in a sentence", "電話番号")]


# Email ----------------------------------------------------------------------------------------


@profile_view
@sensitive_post_parameters("current_password")
@require_http_methods(["GET", "HEAD", "POST"])
def profile_email(request: HttpRequest) -> HttpResponse:
    member, utility = request.user, request.utility
    if request.method == "POST":
        services.count_password_check(request, member)
    form = EmailChangeForm(request.POST or None, member=member)
    if form.is_valid():
        services.start_email_change(request, member, form.cleaned_data["new_email"])
        if utility.verification == utility.Verification.CODE:
            return redirect("accounts:profile_email_code", utility.slug)
        return redirect("accounts:profile_email_sent", utility.slug)
    return render(request, "accounts/profile_email.html", {"form": form})


@profile_view
@require_safe
def profile_email_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/profile_email_sent.html")


@profile_view
@require_http_methods(["GET", "HEAD", "POST"])
def profile_email_code(request: HttpRequest) -> HttpResponse:
    member = request.user
    email = services.email_change_code_target(request, member)
    form = EmailCodeForm(request.POST or None)
    context = {"form": form, "email": email}
    if form.is_valid():
        try:
            services.confirm_email_change_code(request, member, form.cleaned_data["code"])
        except WRONG_CODE:
            context["wrong_code"] = True
        else:
            return _back_to_profile(request, _("メールアドレスを変更しました。"))
    return render(request, "accounts/profile_email_code.html", context)


@mailed_link
@login_not_required
@profile_view
@require_safe
def profile_email_link(request: HttpRequest, token: str) -> HttpResponse:
    # Public, so a member who is signed out logs in first without the token in ?next=.
    services.stash_email_change_link(request, token)
    return redirect("accounts:profile_email_confirm", request.utility.slug)


@profile_view
@require_http_methods(["GET", "HEAD", "POST"])
def profile_email_confirm(request: HttpRequest) -> HttpResponse:
    member = request.user
    if request.method == "POST":
        services.confirm_email_change(request, member)
        return _back_to_profile(request, _("メールアドレスを変更しました。"))
    new_email = services.pending_email_change(request, member)
    return render(request, "accounts/profile_email_confirm.html", {"new_email": new_email})


# Password, secret question, 消費税申告の有無 --------------------------------------------------


@profile_view
@sensitive_post_parameters(*PASSWORD_FIELDS)
@require_http_methods(["GET", "HEAD", "POST"])
def profile_password(request: HttpRequest) -> HttpResponse:
    member = request.user
    if request.method == "POST":
        services.count_password_check(request, member)
    form = PasswordChangeForm(request.POST or None, member=member)
    if form.is_valid():
        services.change_password(request, member, form.cleaned_data["password"])
        return _back_to_profile(request, _("パスワードを変更しました。"))
    return render(request, "accounts/profile_password.html", {"form": form})


@profile_view
@sensitive_post_parameters("current_password", "secret_answer")
@require_http_methods(["GET", "HEAD", "POST"])
def profile_secret(request: HttpRequest) -> HttpResponse:
    member = request.user
    if not request.utility.asks_secret_question:
        raise Http404
    if request.method == "POST":
        services.count_password_check(request, member)
    initial = {"secret_question": member.secret_question}
    form = SecretQuestionForm(request.POST or None, member=member, initial=initial)
    if form.is_valid():
        data = form.cleaned_data
        services.change_secret_question(
            request, member, data["secret_question"], data["secret_answer"]
        )
        return _back_to_profile(request, _("秘密の質問と回答を変更しました。"))
    return render(request, "accounts/profile_secret.html", {"form": form})


@profile_view
@require_http_methods(["GET", "HEAD", "POST"])
def profile_tax(request: HttpRequest) -> HttpResponse:
    member = request.user
    if not request.utility.issues_invoices:
        raise Http404
    initial = {"tax_declaration": member.tax_declaration}
    form = TaxDeclarationForm(request.POST or None, initial=initial)
    if form.is_valid():
        services.change_tax_declaration(request, member, form.cleaned_data["tax_declaration"])
        return _back_to_profile(request, _("消費税申告の有無を変更しました。"))
    return render(request, "accounts/profile_tax.html", {"form": form})


@profile_view
@require_http_methods(["GET", "HEAD", "POST"])
def profile_mail(request: HttpRequest) -> HttpResponse:
    """メールの受け取り: bill-ready, abnormal use and notices; account mails always go."""
    member = request.user
    initial = {
        f"wants_{kind}_mail": member.wants_mail(kind) for kind in ("bill", "alert", "notice")
    }
    form = MailChoicesForm(request.POST or None, initial=initial)
    if form.is_valid():
        services.change_mail_choices(request, member, form.cleaned_data)
        return _back_to_profile(request, _("受け取るメールを変更しました。"))
    return render(request, "accounts/profile_mail.html", {"form": form})


@profile_view
@require_http_methods(["GET", "HEAD", "POST"])
def profile_name(request: HttpRequest) -> HttpResponse:
    """お名前 (a nickname, seed 003): used in the portal's notices and mails."""
    member = request.user
    if not request.utility.name_is_nickname:
        raise Http404
    form = NameForm(request.POST or None, initial={"name": member.name})
    if form.is_valid():
        services.change_name(request, member, form.cleaned_data["name"])
        return _back_to_profile(request, _("お名前を変更しました。"))
    return render(request, "accounts/profile_name.html", {"form": form})


# Contracts ----------------------------------------------------------------------------------


@profile_view
@require_http_methods(["GET", "HEAD", "POST"])
def profile_contract_add(request: HttpRequest) -> HttpResponse:
    member, utility = request.user, request.utility
    form = ContractAddForm(request.POST or None, utility=utility)
    context = {"form": form}
    if form.is_valid():
        try:
            outcome = services.add_contract(request, member, form.cleaned_data)
        except services.ContractAlreadyLinked:
            context["problem"] = "linked"
        except services.ContractAlreadyRequested:
            context["problem"] = "requested"
        else:
            if outcome == services.ADDED:
                return _back_to_profile(request, _("契約を追加しました。"))
            return _back_to_profile(
                request,
                _(
                    "契約の追加を受け付けました。登録内容を確認のうえ、ご使用量等を確認できるように"
                    "なりましたらメールでお知らせします。"
                ),
            )
    return render(request, "accounts/profile_contract_add.html", context)


# Withdrawal (退会) ------------------------------------------------------------------------


@profile_view
@sensitive_post_parameters("current_password")
@require_http_methods(["GET", "HEAD", "POST"])
def profile_withdraw(request: HttpRequest) -> HttpResponse:
    member = request.user
    if request.method == "POST":
        services.count_password_check(request, member)
    form = WithdrawForm(request.POST or None, member=member)
    if form.is_valid():
        services.confirm_withdrawal_intent(request, member)
        return redirect("accounts:profile_withdraw_confirm", request.utility.slug)
    return render(request, "accounts/profile_withdraw.html", {"form": form})


@profile_view
@require_http_methods(["GET", "HEAD", "POST"])
def profile_withdraw_confirm(request: HttpRequest) -> HttpResponse:
    member = request.user
    if not services.withdrawal_confirmed(request, member):
        return redirect("accounts:profile_withdraw", request.utility.slug)
    if request.method == "POST":
        services.withdraw_member(request, member)
        return redirect("accounts:profile_withdrawn", request.utility.slug)
    return render(request, "accounts/profile_withdraw_confirm.html")


@login_not_required
@require_safe
def profile_withdrawn(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/profile_withdrawn.html")

"""「ログインID/パスワードを忘れた方」 and 「パスワードを忘れた場合」: services do the work."""

from __future__ import annotations

import functools
from collections.abc import Callable
from http import HTTPStatus

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_safe

from portal.decorators import mailed_link

from .. import challenges
from ..forms.recovery import (
    NewPasswordForm,
    PasswordResetEmailForm,
    RecoveryIdentifyForm,
    SecretAnswerForm,
)
from ..forms.signup import EmailCodeForm
from ..models import SECRET_QUESTIONS
from ..ratelimit import RateLimited
from ..services import recovery as services
from ..services.base import NotStarted
from .responses import rate_limited_response

RESTART_REASONS = {
    NotStarted: "not_started",
    challenges.ChallengeInvalid: "invalid",
    challenges.ChallengeExpired: "expired",
    challenges.ChallengeUsed: "used",
    challenges.CodeDead: "code_used_up",
}
# One message for a wrong and an expired code here: the address may be unknown.
WRONG_CODE = (challenges.CodeWrong, challenges.ChallengeExpired)


def recovery_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Make a recovery page public and uncached, and turn the services' refusals into pages."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except RateLimited as exc:
            return rate_limited_response(request, exc)
        except services.RecoveryLocked as exc:
            return render(
                request,
                "accounts/recovery_locked.html",
                {"until": exc.until},
                status=HTTPStatus.TOO_MANY_REQUESTS,
            )
        except tuple(RESTART_REASONS) as exc:
            return render(
                request,
                "accounts/recovery_restart.html",
                {"reason": RESTART_REASONS[type(exc)]},
                status=HTTPStatus.BAD_REQUEST,
            )

    return login_not_required(never_cache(wrapped))


@recovery_view
@require_http_methods(["GET", "HEAD", "POST"])
def recovery(request: HttpRequest) -> HttpResponse:
    """The entry from the login page: the secret-question path or the email path."""
    if request.utility.asks_secret_question:
        return _identify(request)
    return _reset_by_email(request)


def _identify(request: HttpRequest) -> HttpResponse:
    utility = request.utility
    form = RecoveryIdentifyForm(request.POST or None, utility=utility)
    context = {"form": form}
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.find_member_for_recovery(
                request, utility, data["email"], data["customer_number"]
            )
        except services.RecoveryNotMatched:
            context["not_matched"] = True
        else:
            return redirect("accounts:recovery_question", utility.slug)
    return render(request, "accounts/recovery_identify.html", context)


def _reset_by_email(request: HttpRequest) -> HttpResponse:
    utility = request.utility
    form = PasswordResetEmailForm(request.POST or None)
    if form.is_valid():
        services.start_password_reset(request, utility, form.cleaned_data["email"])
        if utility.verification == utility.Verification.CODE:
            return redirect("accounts:recovery_code", utility.slug)
        return redirect("accounts:recovery_sent", utility.slug)
    return render(request, "accounts/recovery_email.html", {"form": form})


@recovery_view
@sensitive_post_parameters("answer")
@require_http_methods(["GET", "HEAD", "POST"])
def recovery_question(request: HttpRequest) -> HttpResponse:
    utility = request.utility
    member = services.recovery_member(request, utility)
    form = SecretAnswerForm(request.POST or None)
    context = {"form": form, "question": dict(SECRET_QUESTIONS).get(member.secret_question)}
    if form.is_valid():
        try:
            services.answer_secret_question(request, utility, form.cleaned_data["answer"])
        except services.WrongSecretAnswer as exc:
            context["attempts_left"] = exc.attempts_left
        else:
            return redirect("accounts:recovery_sent", utility.slug)
    return render(request, "accounts/recovery_question.html", context)


@recovery_view
@require_safe
def recovery_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/recovery_sent.html")


@recovery_view
@require_http_methods(["GET", "HEAD", "POST"])
def recovery_code(request: HttpRequest) -> HttpResponse:
    utility = request.utility
    email = services.reset_code_email(request, utility)
    form = EmailCodeForm(request.POST or None)
    context = {"form": form, "email": email}
    if form.is_valid():
        try:
            services.confirm_reset_code(request, utility, form.cleaned_data["code"])
        except WRONG_CODE:
            context["wrong_code"] = True
        else:
            return redirect("accounts:recovery_password", utility.slug)
    return render(request, "accounts/recovery_code.html", context)


@mailed_link
@recovery_view
@require_safe
def recovery_link(request: HttpRequest, token: str) -> HttpResponse:
    services.stash_reset_link(request, request.utility, token)
    return redirect("accounts:recovery_password", request.utility.slug)


@recovery_view
@sensitive_post_parameters("password", "password_confirm")
@require_http_methods(["GET", "HEAD", "POST"])
def recovery_password(request: HttpRequest) -> HttpResponse:
    utility = request.utility
    member = services.reset_member(request, utility)
    form = NewPasswordForm(request.POST or None, member=member)
    if form.is_valid():
        services.reset_password(request, utility, form.cleaned_data["password"])
        return redirect("accounts:recovery_done", utility.slug)
    return render(request, "accounts/recovery_password.html", {"form": form})


@recovery_view
@require_safe
def recovery_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/recovery_done.html")

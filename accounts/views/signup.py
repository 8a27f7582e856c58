"""Signup screens for every utility (seed 000 ② to ⑧, seed 003 ① to ⑧); services do the work."""

from __future__ import annotations

import functools
from collections.abc import Callable
from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from portal.decorators import mailed_link, resumes_at
from portal.models import Utility

from .. import challenges
from ..forms.signup import (
    CODE_REFUSALS,
    EmailCodeForm,
    SignupCodeEmailForm,
    SignupDetailsForm,
    SignupEmailForm,
    mismatch_messages,
)
from ..ratelimit import CooldownActive, RateLimited
from ..services import signup as services
from ..services.base import NotStarted
from .responses import rate_limited_response

# A reloaded or reopened step a button posts to goes on from the details (kept in the session).
BACK_TO_DETAILS = resumes_at("accounts:signup_details", gettext_lazy("入力画面に戻る"))

RESTART_REASONS = {
    NotStarted: "not_started",
    challenges.ChallengeInvalid: "invalid",
    challenges.ChallengeExpired: "expired",
    challenges.ChallengeUsed: "used",
    services.TooManyMismatches: "mismatches",
}
SIGNUP_SECRETS = ("password", "password_confirm", "secret_answer")
# Seed 003's screens (「1/4」 to 「4/4」) differ in words and order from seed 000's.
CODE_STYLE_TEMPLATES = {
    "accounts/signup.html": "accounts/signup_code.html",
    "accounts/signup_details.html": "accounts/signup_code_details.html",
    "accounts/signup_confirm.html": "accounts/signup_code_confirm.html",
    "accounts/signup_done.html": "accounts/signup_code_done.html",
}


def _template(utility: Utility, name: str) -> str:
    if utility.verification == Utility.Verification.CODE:
        return CODE_STYLE_TEMPLATES[name]
    return name


def signup_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Make a signup page public and uncached, and turn the pipeline's refusals into pages."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except RateLimited as exc:
            return rate_limited_response(request, exc)
        except tuple(RESTART_REASONS) as exc:
            reason = RESTART_REASONS[type(exc)]
            return render(
                request,
                "accounts/signup_restart.html",
                {"reason": reason},
                status=HTTPStatus.BAD_REQUEST,
            )

    return login_not_required(never_cache(wrapped))


@signup_view
@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    utility = request.utility
    by_code = utility.verification == Utility.Verification.CODE
    form = (SignupCodeEmailForm if by_code else SignupEmailForm)(request.POST or None)
    template = _template(utility, "accounts/signup.html")
    if form.is_valid():
        try:
            services.start_signup(request, utility, form.cleaned_data["email"])
        except CooldownActive as exc:
            context = {"form": form, "cooldown": exc.retry_seconds}
            return render(request, template, context, status=HTTPStatus.TOO_MANY_REQUESTS)
        return redirect("accounts:signup_code" if by_code else "accounts:signup_sent", utility.slug)
    return render(request, template, {"form": form})


@signup_view
@require_http_methods(["GET", "HEAD", "POST"])
def signup_code(request: HttpRequest) -> HttpResponse:
    utility = request.utility
    email = services.code_signup_email(request, utility)
    form = EmailCodeForm(request.POST or None)
    if form.is_valid():
        try:
            services.confirm_signup_code(request, utility, form.cleaned_data["code"])
        except CODE_REFUSALS as exc:
            form.add_refusal(exc, utility)
        else:
            return redirect("accounts:signup_details", utility.slug)
    return _code_page(request, email, form)


@resumes_at("accounts:signup_code", gettext_lazy("認証コードの入力に戻る"))
@signup_view
@require_POST
def signup_code_resend(request: HttpRequest) -> HttpResponse:
    utility = request.utility
    email = services.code_signup_email(request, utility)
    try:
        services.resend_signup_code(request, utility)
    except CooldownActive as exc:
        status = HTTPStatus.TOO_MANY_REQUESTS
        return _code_page(request, email, status=status, cooldown=exc.retry_seconds)
    messages.success(request, _("認証コードを再送信しました。"))
    return redirect("accounts:signup_code", utility.slug)


def _code_page(
    request: HttpRequest,
    email: str,
    form: EmailCodeForm | None = None,
    status: int = HTTPStatus.OK,
    **context,
) -> HttpResponse:
    """Seed 003 ④: the address step again, now with the code field."""
    context = {"email": email, "code_form": form or EmailCodeForm(), **context}
    return render(request, "accounts/signup_code.html", context, status=status)


@signup_view
@require_safe
def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/signup_sent.html")


@mailed_link
@signup_view
@require_safe
def signup_link(request: HttpRequest, token: str) -> HttpResponse:
    services.stash_signup_link(request, request.utility, token)
    return redirect("accounts:signup_details", request.utility.slug)


@signup_view
@require_safe
def signup_details(request: HttpRequest) -> HttpResponse:
    utility = request.utility
    email = services.signup_email(request, utility)
    form = _kept_details_form(request, utility, email)
    return _details_page(request, utility, form, email)


def _kept_details_form(request: HttpRequest, utility: Utility, email: str) -> SignupDetailsForm:
    """The details form refilled from the session: every value but the passwords, and the
    secret answer shown as 「入力済み」 (only its hash is kept; it is never refilled)."""
    return SignupDetailsForm(
        utility=utility,
        email=email,
        initial=services.saved_signup_details(request, utility),
        answer_kept=services.secret_answer_kept(request, utility),
    )


@BACK_TO_DETAILS
@signup_view
@require_POST
def signup_back(request: HttpRequest) -> HttpResponse:
    """「入力画面に戻る」 / 「訂正」: the details again, every value but the passwords."""
    utility = request.utility
    email = services.signup_email(request, utility)
    return _details_page(request, utility, _kept_details_form(request, utility, email), email)


def _details_page(
    request: HttpRequest,
    utility: Utility,
    form: SignupDetailsForm,
    email: str,
    status: int = HTTPStatus.OK,
    **context,
) -> HttpResponse:
    template = _template(utility, "accounts/signup_details.html")
    context = {"form": form, "email": email, **context}
    return render(request, template, context, status=status)


@BACK_TO_DETAILS
@signup_view
@sensitive_post_parameters(*SIGNUP_SECRETS)
@require_POST
def signup_confirm(request: HttpRequest) -> HttpResponse:
    utility = request.utility
    email = services.signup_email(request, utility)
    services.count_signup_details(request, utility, email)
    kept = services.secret_answer_kept(request, utility)
    form = SignupDetailsForm(request.POST, utility=utility, email=email, answer_kept=kept)
    if not form.is_valid():
        return _details_page(request, utility, form, email)
    services.verify_signup_email(request, utility)
    services.save_signup_details(request, utility, form.to_session())
    # ⑦ answers the POST that typed the secret answer, so it shows it once (as the guide's
    # ⑦ does); nothing on the page carries it further, and the session keeps its hash only.
    context = {
        "rows": form.confirmation_rows(),
        "items": form.confirmation_list(),
        "email": email,
    }
    return render(request, _template(utility, "accounts/signup_confirm.html"), context)


@BACK_TO_DETAILS
@signup_view
@require_POST
def signup_complete(request: HttpRequest) -> HttpResponse:
    utility = request.utility
    try:
        services.complete_signup(request, utility)
    except (services.LoginIdTaken, services.EmailTaken) as exc:
        return _details_again(request, utility, exc)
    except services.ContractNotMatched as exc:
        return _not_matched(request, utility, exc.problems)
    return redirect("accounts:signup_done", utility.slug)


def _not_matched(request: HttpRequest, utility: Utility, problems: list[str]) -> HttpResponse:
    """Seed 003 ⑦: the confirmation again, with a bullet per problem and 「訂正」."""
    email = services.signup_email(request, utility)
    kept = services.saved_signup_details(request, utility)
    form = SignupDetailsForm(utility=utility, email=email)
    context = {
        "items": form.confirmation_list(kept),
        "email": email,
        "problems": mismatch_messages(utility, problems),
    }
    template = _template(utility, "accounts/signup_confirm.html")
    return render(request, template, context, status=HTTPStatus.UNPROCESSABLE_ENTITY)


def _details_again(request: HttpRequest, utility: Utility, error: Exception) -> HttpResponse:
    email = services.signup_email(request, utility)
    form = _kept_details_form(request, utility, email)
    if isinstance(error, services.LoginIdTaken):
        form.add_login_id_taken()
        return _details_page(request, utility, form, email, status=HTTPStatus.CONFLICT)
    return _details_page(
        request, utility, form, email, status=HTTPStatus.CONFLICT, email_taken=True
    )


@signup_view
@require_safe
def signup_done(request: HttpRequest) -> HttpResponse:
    done = request.session.get(services.SIGNUP_DONE_SESSION_KEY)
    if not done or done.get("utility") != request.utility.pk:
        return redirect("accounts:login", request.utility.slug)
    template = _template(request.utility, "accounts/signup_done.html")
    return render(request, template, {"active": done["status"] == "active"})

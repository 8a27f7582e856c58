"""Signup screens ② to ⑧, shared by every utility; services do the work."""

from __future__ import annotations

import functools
from collections.abc import Callable
from http import HTTPStatus

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.models import Utility

from .. import services
from ..forms.signup import SignupDetailsForm, SignupEmailForm

RESTART_REASONS = {
    services.SignupNotStarted: "not_started",
    services.LinkInvalid: "invalid",
    services.LinkExpired: "expired",
    services.LinkUsed: "used",
}
SIGNUP_SECRETS = ("password", "password_confirm", "secret_answer")


def signup_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Make a signup page public and uncached, and turn the pipeline's refusals into pages."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except services.RateLimited as exc:
            response = render(
                request,
                "accounts/rate_limited.html",
                {"retry_minutes": exc.retry_minutes},
                status=HTTPStatus.TOO_MANY_REQUESTS,
            )
            response["Retry-After"] = str(exc.retry_seconds)
            return response
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
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    utility = request.utility
    if utility.verification != Utility.Verification.LINK:
        # Until the email-code signup ships (issue #4), tell residents whom to ask.
        return render(request, "accounts/recovery_contact.html", {"signup": True})
    form = SignupEmailForm(request.POST or None)
    if form.is_valid():
        try:
            services.start_signup(request, utility, form.cleaned_data["email"])
        except services.MailNotSent:
            return render(
                request,
                "accounts/signup.html",
                {"form": form, "mail_failed": True},
                status=HTTPStatus.SERVICE_UNAVAILABLE,
            )
        return redirect("accounts:signup_sent", utility.slug)
    return render(request, "accounts/signup.html", {"form": form})


@signup_view
@require_GET
def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/signup_sent.html")


@signup_view
@require_GET
def signup_link(request: HttpRequest, token: str) -> HttpResponse:
    services.stash_signup_link(request, request.utility, token)
    return redirect("accounts:signup_details", request.utility.slug)


@signup_view
@require_GET
def signup_details(request: HttpRequest) -> HttpResponse:
    utility = request.utility
    email = services.signup_email(request, utility)
    initial = services.saved_signup_details(request, utility)
    form = SignupDetailsForm(utility=utility, email=email, initial=initial)
    return render(request, "accounts/signup_details.html", {"form": form, "email": email})


@signup_view
@sensitive_post_parameters(*SIGNUP_SECRETS)
@require_POST
def signup_confirm(request: HttpRequest) -> HttpResponse:
    utility = request.utility
    services.count_signup_attempt(request)
    email = services.signup_email(request, utility)
    form = SignupDetailsForm(request.POST, utility=utility, email=email)
    if not form.is_valid():
        return render(request, "accounts/signup_details.html", {"form": form, "email": email})
    services.verify_signup_email(request, utility)
    services.save_signup_details(request, utility, form.to_session())
    # ⑦ is this POST's answer, so the secret answer can be shown once without being kept.
    context = {"rows": form.confirmation_rows(), "email": email}
    return render(request, "accounts/signup_confirm.html", context)


@signup_view
@require_POST
def signup_complete(request: HttpRequest) -> HttpResponse:
    utility = request.utility
    try:
        services.complete_signup(request, utility)
    except (services.LoginIdTaken, services.EmailTaken) as exc:
        return _details_again(request, utility, exc)
    return redirect("accounts:signup_done", utility.slug)


def _details_again(request: HttpRequest, utility: Utility, error: Exception) -> HttpResponse:
    email = services.signup_email(request, utility)
    initial = services.saved_signup_details(request, utility)
    form = SignupDetailsForm(utility=utility, email=email, initial=initial)
    context = {"form": form, "email": email}
    if isinstance(error, services.LoginIdTaken):
        form.add_login_id_taken()
    else:
        context["email_taken"] = True
    return render(request, "accounts/signup_details.html", context, status=HTTPStatus.CONFLICT)


@signup_view
@require_GET
def signup_done(request: HttpRequest) -> HttpResponse:
    done = request.session.get(services.SIGNUP_DONE_SESSION_KEY)
    if not done or done.get("utility") != request.utility.pk:
        return redirect("accounts:login", request.utility.slug)
    return render(request, "accounts/signup_done.html", {"active": done["status"] == "active"})

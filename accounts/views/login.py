"""Login and logout for residents, and the pages shown when someone must wait."""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from billing import notices
from portal.decorators import open_all_hours
from portal.qr import login_qr_context

from ..forms.login import LoginForm
from ..mail_failures import tell_failed_mails
from ..services import language as languages

REMEMBER_ID_SALT = "accounts.remember-id"
# What a path may keep unencoded (RFC 3986 pchar and "/"); everything else, "%" included,
# is encoded again, so the browser reads exactly the path that was checked.
PATH_SAFE = "/:@!$&'()*+,;=-._~"


def _remembered_id(request: HttpRequest) -> str:
    return request.get_signed_cookie(
        settings.PORTAL_REMEMBER_ID_COOKIE, default="", salt=REMEMBER_ID_SALT
    )


def _next_url(request: HttpRequest) -> str | None:
    """Return ``?next=`` only if it is a path of this utility's own pages (never the admin,
    another utility or another site), in the resolved form that was checked."""
    target = request.POST.get("next") or request.GET.get("next")
    if not target or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    path = _resolved_path(parts.path)
    if not path.startswith(f"/{request.utility.slug}/"):
        return None
    return quote(path, safe=PATH_SAFE) + (f"?{parts.query}" if parts.query else "")


def _resolved_path(path: str) -> str:
    """Return the path to check: percent-decoded however often it was encoded, backslashes
    read as slashes (as browsers do), repeated slashes as one, dot segments resolved.

    /kanazawa/%2e%2e/nayoro/ is /nayoro/ to a browser, so it is checked as /nayoro/.
    """
    while (decoded := unquote(path)) != path:
        path = decoded
    segments: list[str] = []
    for segment in path.replace("\\", "/").split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    trailing = bool(segments) and path.endswith(("/", "/.", "/.."))
    return "/" + "/".join(segments) + ("/" if trailing else "")


@login_not_required
@sensitive_post_parameters("password")
@require_http_methods(["GET", "HEAD", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    utility = request.utility
    user = request.user
    if user.is_authenticated and getattr(user, "utility_id", None) == utility.pk:
        return redirect("billing:dashboard", utility.slug)
    remembered = _remembered_id(request)
    initial = {"identifier": remembered, "remember_id": bool(remembered)}
    form = LoginForm(request.POST or None, request=request, utility=utility, initial=initial)
    if request.method == "POST" and form.is_valid():
        auth_login(request, form.member)
        tell_failed_mails(request, form.member)
        next_url = _next_url(request)
        response = redirect(next_url) if next_url else redirect("billing:dashboard", utility.slug)
        _remember_id(response, utility, form)
        languages.after_login(request, response, form.member)
        return response
    context = {
        "form": form,
        "next": _next_url(request) or "",
        "notices": notices.public(utility),
        **login_qr_context(request),
    }
    return render(request, "accounts/login.html", context)


def _remember_id(response: HttpResponse, utility, form: LoginForm) -> None:
    """Keep only the login ID, signed, in a cookie for this utility's pages; never the password."""
    path = f"/{utility.slug}/"
    if form.cleaned_data.get("remember_id"):
        response.set_signed_cookie(
            settings.PORTAL_REMEMBER_ID_COOKIE,
            form.cleaned_data["identifier"],
            salt=REMEMBER_ID_SALT,
            max_age=settings.PORTAL_REMEMBER_ID_MAX_AGE,
            path=path,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
    else:
        response.delete_cookie(settings.PORTAL_REMEMBER_ID_COOKIE, path=path)


@open_all_hours
@login_not_required
@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """End the session at any hour: a resident on a shared phone at 02:05 must be able to
    leave. It saves nothing, so the closed hours have nothing to protect here; the login
    page it leads to then shows the hours (503) under 「ログアウトしました。」."""
    auth_logout(request)
    messages.success(request, _("ログアウトしました。"))
    return redirect("accounts:login", request.utility.slug)


def locked_out(
    request: HttpRequest, credentials: dict | None = None, *args, **kwargs
) -> HttpResponse:
    """Tell someone locked out by django-axes when to try again (AXES_LOCKOUT_CALLABLE)."""
    return render(request, "accounts/locked_out.html", status=429)


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Tell someone over a rate limit to wait (RATELIMIT_VIEW)."""
    return render(request, "accounts/rate_limited.html", status=429)

"""Operating hours and private-by-default pages for each utility's residents."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthentication
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _

from .sessions import signed_in_user


class OperatingHoursMiddleware:
    """Answer 503 with the utility's hours on every resident page outside them.

    Runs after ``portal.middleware.UtilityMiddleware``: pages without a utility (the admin,
    static files, /healthz, the list of utilities) and information pages marked
    ``@open_all_hours`` (guide, FAQ, contacts, terms, and logout) are never closed. A POST that arrives after
    closing is not processed at all, so nothing already saved is touched.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        utility = getattr(request, "utility", None)
        if utility is None or getattr(view_func, "open_all_hours", False):
            return None
        now = timezone.localtime()
        if utility.is_open_at(now):
            return None
        opening = utility.next_opening(now)
        context = {
            "opens_at": opening,
            "posted": request.method == "POST",
            "mailed_link": getattr(view_func, "mailed_link", False),
        }
        response = render(request, "outside_hours.html", context, status=503)
        response["Retry-After"] = str(int((opening - now).total_seconds()))
        response["Cache-Control"] = "no-store"
        response._has_been_logged = True  # closed hours are no server error for the log
        return response


class AuthenticationMiddleware(DjangoAuthentication):
    """Django's, taking the resident carried with the session when it still holds
    (accounts.sessions: one cache round trip for the session and the member)."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: signed_in_user(request))


class ResidentLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Make every page under /<utility>/ private unless marked ``@login_not_required``.

    Only a resident of that same utility passes: a member of another utility, or staff,
    is sent to this utility's login page. Pages outside a utility keep their own rules.
    """

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        utility = getattr(request, "utility", None)
        if utility is None or not getattr(view_func, "login_required", True):
            return None
        user = request.user
        if user.is_authenticated and user.is_resident and user.utility_id == utility.pk:
            return None
        return redirect_to_login(request.get_full_path(), utility.get_absolute_url())


IDLE_SESSION_KEY = "accounts.last_seen"
IDLE_RESOLUTION_SECONDS = (
    60  # write the session at most once a minute (a tenth of a short idle time)
)


class SessionIdleTimeoutMiddleware:
    """Sign a resident out after the utility's idle time, and say so on the next page.

    Only pages under a utility look at the session: /healthz, static files and the admin
    never load it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        if getattr(request, "utility", None) is None:
            return None
        user = request.user
        if user.is_authenticated and user.is_resident:
            now = int(timezone.now().timestamp())
            last_seen = request.session.get(IDLE_SESSION_KEY)
            idle = user.utility.session_idle_minutes * 60
            # The stamp is written at most once per ``resolution``, so the last page may be up to
            # that much later than it: signing out only past idle + resolution is never early
            # (at most one resolution late: a minute at 30 minutes, 6 s at one minute).
            resolution = min(IDLE_RESOLUTION_SECONDS, max(idle // 10, 1))
            if last_seen is not None and now - last_seen > idle + resolution:
                logout(request)
                messages.info(
                    request,
                    _(
                        "一定の時間操作がなかったため、安全のためログアウトしました。"
                        "お手数ですが、もう一度ログインしてください。"
                    ),
                )
            elif last_seen is None or now - last_seen >= resolution:
                request.session[IDLE_SESSION_KEY] = now
        return None

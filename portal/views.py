"""Portal-wide pages: the list of utilities, each utility's information pages, the guide."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.views import defaults
from django.views.decorators.cache import never_cache

from .decorators import open_all_hours
from .models import Utility
from .qr import login_qr_context

logger = logging.getLogger(__name__)


@login_not_required
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/index.html", {"utilities": Utility.objects.all()})


@login_not_required
@open_all_hours
def terms(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/terms.html")


@login_not_required
@open_all_hours
def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/privacy.html")


@login_not_required
@open_all_hours
def faq(request: HttpRequest) -> HttpResponse:
    faq = request.utility.local.faq
    return render(request, "portal/faq.html", {"entries": faq_entries(faq), "faq": faq})


@login_not_required
@open_all_hours
def offices(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/offices.html")


@login_not_required
@open_all_hours
def inquiry(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/inquiry.html")


@login_not_required
@open_all_hours
def guide(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/guide.html", login_qr_context(request))


def faq_entries(text: str) -> list[tuple[str, str]]:
    """Split FAQ text into (question, answer) pairs; a question line starts with 「Q.」."""
    entries: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("Q."):
            entries.append((line[2:].strip(), []))
        elif entries and line.strip():
            entries[-1][1].append(line.removeprefix("A.").strip())
    return [(q, "\n".join(a)) for q, a in entries]


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Answer 200 ``ok`` when the database (and a shared cache, if set) answer; else 503.

    Load balancers poll this; the body names the part that failed.
    """
    failing = [name for name, check in _HEALTH_CHECKS if not _answers(check)]
    if failing:
        body = "\n".join(f"{name}: unavailable" for name in failing)
        response = HttpResponse(body, content_type="text/plain", status=503)
        response._has_been_logged = True  # _answers logged each failure once, with its cause
        return response
    return HttpResponse("ok", content_type="text/plain")


def _database_answers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache_answers() -> None:
    if settings.PORTAL_SHARED_CACHE:
        cache.get("portal.healthz")


_HEALTH_CHECKS = [("database", _database_answers), ("cache", _cache_answers)]


def _answers(check) -> bool:
    try:
        check()
    except Exception:  # noqa: BLE001 - whatever the failure, the part is not healthy
        logger.warning("health check failed", exc_info=True)
        return False
    return True


# Error pages ------------------------------------------------------------------------------
# An address that matches no page, or a form refused before any view ran (an expired CSRF
# token), never reached UtilityMiddleware.process_view: the utility is read from the path so
# the page keeps its header, its contact block and the way back to its own login page.


def _keep_utility(request: HttpRequest) -> None:
    if getattr(request, "utility", None) is not None:
        return
    slug = request.path_info.lstrip("/").partition("/")[0]
    try:
        request.utility = Utility.objects.filter(slug=slug).first() if slug else None
    except DatabaseError:  # the error page must not fail too; the portal's own page will do
        request.utility = None


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    _keep_utility(request)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    _keep_utility(request)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    _keep_utility(request)
    return defaults.page_not_found(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """The page for a form refused by CSRF (it sat open too long), under its utility."""
    _keep_utility(request)
    return render(request, "403_csrf.html", status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page, with the request's id to quote; it touches neither database nor cache."""
    html = loader.get_template("500.html").render({"request_id": getattr(request, "id", "")})
    return HttpResponse(html, status=500)

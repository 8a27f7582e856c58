"""Per-request plumbing: an id for the logs, the utility named in the URL, the CSP header."""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from .logging import REQUEST_ID
from .models import Utility

# An id the balancer already gave the request is kept if it looks like one (no log forging).
_GIVEN_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

URL_KWARG = "utility_slug"


class RequestIdMiddleware:
    """Give each request an id, put it on every log line and in the X-Request-ID header.

    A resident who quotes the number on the error page lets staff find the traceback.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request.id = given if _GIVEN_ID.match(given) else uuid.uuid4().hex  # type: ignore[attr-defined]
        token = REQUEST_ID.set(request.id)
        try:
            response = self.get_response(request)
        finally:
            REQUEST_ID.reset(token)
        response["X-Request-ID"] = request.id
        return response


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the header built once rather than on every response.

    The policy (settings.CONTENT_SECURITY_POLICY) is the same for every page, yet django-csp
    rebuilt both headers from the settings on each response (about 0.1 ms of CPU, issue 17's
    profile). A response that asks for its own policy (``@csp_update`` and the like) or a
    request that used a nonce still gets django-csp's own handling; so does DEBUG's debug page.
    """

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if (
            settings.DEBUG
            or getattr(request, "_csp_nonce", None) is not None
            or any(getattr(response, name, None) is not None for name in _OWN_POLICY)
        ):
            return super().process_response(request, response)
        policy, report_only = _policies()
        for header, value, exempt, setting in (
            (HEADER, policy, "_csp_exempt", "CONTENT_SECURITY_POLICY"),
            (
                HEADER_REPORT_ONLY,
                report_only,
                "_csp_exempt_ro",
                "CONTENT_SECURITY_POLICY_REPORT_ONLY",
            ),
        ):
            if not value or header in response or getattr(response, exempt, False):
                continue
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = value
        # As django-csp does: a nonce asked for after the header was written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response


_OWN_POLICY = tuple(
    f"_csp_{part}{suffix}" for part in ("config", "update", "replace") for suffix in ("", "_ro")
)


@functools.cache
def _policies() -> tuple[str, str]:
    return build_policy(), build_policy(report_only=True)


@receiver(setting_changed, dispatch_uid="portal.middleware.csp_settings")
def _policy_settings_changed(setting: str, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _policies.cache_clear()


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Django's LocaleMiddleware, which negotiates nothing while one language is served.

    With a single entry in LANGUAGES every request gets LANGUAGE_CODE whatever it asks for,
    yet Django's read the language cookie, parsed Accept-Language and matched the path on
    every request and response (about 50 µs of CPU, a twentieth of a signed-in page; issue
    17). Here the language is activated and Content-Language set as Django does, and
    ``Vary: Accept-Language`` is left out: no response varies by it. Give LANGUAGES a second
    language (issue 22) and Django's own negotiation runs again, unchanged.
    """

    def process_request(self, request: HttpRequest) -> None:
        if len(settings.LANGUAGES) > 1:
            return super().process_request(request)
        translation.activate(settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = settings.LANGUAGE_CODE  # type: ignore[attr-defined]
        return None

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if len(settings.LANGUAGES) > 1:
            return super().process_response(request, response)
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


class UtilityMiddleware:
    """Set ``request.utility`` from the ``<utility_slug>`` URL segment (None elsewhere).

    The slug is taken out of the view's kwargs, so views read ``request.utility`` and
    never look the utility up again. An unknown slug is a 404.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.utility = None  # type: ignore[attr-defined]
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        slug = view_kwargs.pop(URL_KWARG, None)
        if slug is None:
            return None
        utility = _signed_in_utility(request, slug) or Utility.objects.filter(slug=slug).first()
        if utility is None:
            raise Http404("unknown utility")
        request.utility = utility  # type: ignore[attr-defined]
        return None


class MethodNotAllowedPageMiddleware:
    """Answer a GET on a POST-only step under a utility with a page that says where to go on,
    and a form posted to a page that takes none with a page that leads back to it.

    Reloading a confirmation, reopening its tab or following a bookmark asks by GET for a step
    only a form's button reaches; Chromium shows the bare 405 as 「HTTP ERROR 405」 in English.
    The view's ``@resumes_at`` names the page to go on from (the utility's login page if none).
    Runs after ``UtilityMiddleware``; the status and the Allow header stay.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        utility = getattr(request, "utility", None)
        if response.status_code != 405 or not utility:
            return response
        if request.method in ("GET", "HEAD"):
            view = request.resolver_match.func if request.resolver_match else None
            url_name, label = getattr(view, "resumes_at", ("accounts:login", _("ログインページへ")))
            context = {"resume_url": reverse(url_name, args=[utility.slug]), "resume_label": label}
        else:  # a form posted to a page that takes none (a stale form, a script): back to it
            context = {"resume_url": request.path, "resume_label": _("元の画面へ"), "posted": True}
        page = render(request, "405.html", context, status=405)
        page["Allow"] = response["Allow"]
        return page


def _signed_in_utility(request: HttpRequest, slug: str) -> Utility | None:
    """Reuse the utility the signed-in member was loaded with (one query fewer per page)."""
    if not request.COOKIES.get(settings.SESSION_COOKIE_NAME):
        return None  # anonymous: do not load a session just to find out
    utility = getattr(getattr(request, "user", None), "utility", None)
    return utility if utility is not None and utility.slug == slug else None

"""Per-request plumbing: an id for the logs, the utility named in the URL, the CSP header, the
language (and やさしい日本語's furigana)."""

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
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _

from . import furigana, langparts
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


class LocaleMiddleware:
    """Activate the language the resident chose with the switch (the language cookie), else
    Japanese; the admin is always Japanese.

    Django's LocaleMiddleware also negotiates Accept-Language and language prefixes in the
    path (about 50 µs of CPU a request, issue 17). Here nothing is negotiated: the seeds'
    Japanese is what a resident sees until they choose, whatever their browser is set to, and a
    choice is one cookie read against a set. The utility's own languages are applied once the
    utility is known (``UtilityMiddleware``); no database query is made for the language.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = settings.LANGUAGE_CODE
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if chosen and chosen in _codes() and not request.path_info.startswith(_admin_prefix()):
            language = chosen
        translation.activate(language)
        request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
        response = self.get_response(request)
        # As <html lang> says it: やさしい日本語 is Japanese (ja-easy is no language tag).
        active = translation.get_language()
        response.headers.setdefault(
            "Content-Language", settings.PORTAL_HTML_LANG.get(active, active)
        )
        if len(settings.LANGUAGES) > 1:
            patch_vary_headers(response, ("Cookie",))  # the same URL is another language
        return response


def use_language(request: HttpRequest, language: str) -> None:
    """Make ``language`` the request's language from here on (a utility not offering the
    chosen one falls back to Japanese)."""
    translation.activate(language)
    request.LANGUAGE_CODE = language  # type: ignore[attr-defined]


@functools.cache
def _codes() -> frozenset[str]:
    return frozenset(code for code, _name in settings.LANGUAGES)


@functools.cache
def _admin_prefix() -> str:
    return "/" + settings.ADMIN_URL.lstrip("/")


@receiver(setting_changed, dispatch_uid="portal.middleware.language_settings")
def _language_settings_changed(setting: str, **kwargs) -> None:
    if setting in ("LANGUAGES", "ADMIN_URL"):
        _codes.cache_clear()
        _admin_prefix.cache_clear()


class FuriganaMiddleware:
    """Turn やさしい日本語's 「｜漢字《かんじ》」 into ``<ruby>`` on HTML pages (portal.furigana).

    Only while ``ja-easy`` is active: other languages pay one comparison.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            translation.get_language() != furigana.EASY_JAPANESE
            or response.streaming
            or not response.get("Content-Type", "").startswith("text/html")
        ):
            return response
        content = response.content.decode(response.charset)
        if "《" in content:
            response.content = furigana.to_html(content).encode(response.charset)
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        return response


class LanguageOfPartsMiddleware:
    """On a page in a language other than Japanese, mark each Japanese word ``lang="ja"``
    (portal.langparts): a Japanese page pays one comparison."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        language = translation.get_language() or settings.LANGUAGE_CODE
        page_lang = settings.PORTAL_HTML_LANG.get(language, language)
        if (
            page_lang == "ja"
            or response.streaming
            or not response.get("Content-Type", "").startswith("text/html")
        ):
            return response
        content = response.content.decode(response.charset)
        marked = langparts.mark(content, page_lang)
        if marked != content:
            response.content = marked.encode(response.charset)
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
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
        if getattr(request, "LANGUAGE_CODE", None) not in utility.language_codes:
            use_language(request, settings.LANGUAGE_CODE)
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

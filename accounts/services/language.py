"""The language a member chose with the switch: stored on the member for their mails, and
brought back to the browser they sign in on."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def remember(member, language: str) -> None:
    """Store ``language`` as the member's (their mails are written in it); a save, so the
    cached signed-in member is dropped (accounts.backends)."""
    if member.language != language:
        member.language = language
        member.save(update_fields=["language"])


def after_login(request: HttpRequest, response: HttpResponse, member) -> None:
    """A language chosen on this browser before signing in becomes the member's; a browser
    that never chose gets the member's own (from another device), if their utility offers it."""
    if request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME):
        remember(member, request.LANGUAGE_CODE)
    elif member.language and member.language in member.utility.language_codes:
        set_cookie(response, member.language)


def set_cookie(response: HttpResponse, language: str) -> None:
    """The language cookie as Django's ``set_language`` writes it."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )

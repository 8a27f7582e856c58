"""Pages every account flow answers with when it must refuse or wait."""

from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ..ratelimit import LimiterUnavailable, RateLimited


def rate_limited_response(
    request: HttpRequest, exc: RateLimited, back: tuple[str, str] | None = None
) -> HttpResponse:
    """「しばらくお待ちください」 with when to try again (429), or 503 if limits cannot be counted.
    ``back`` is the page to go back to, ``(url, words)``; the login page by default."""
    if isinstance(exc, LimiterUnavailable):
        response = render(
            request, "accounts/unavailable.html", status=HTTPStatus.SERVICE_UNAVAILABLE
        )
        response["Retry-After"] = str(exc.retry_seconds)
        response._has_been_logged = True  # ratelimit already logged the cache failure
        return response
    response = render(
        request,
        "accounts/rate_limited.html",
        {"retry_minutes": exc.retry_minutes, "back": back},
        status=HTTPStatus.TOO_MANY_REQUESTS,
    )
    response["Retry-After"] = str(exc.retry_seconds)
    return response

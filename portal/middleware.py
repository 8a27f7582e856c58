"""Resolve the utility named in the URL once per request."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse

from .models import Utility

URL_KWARG = "utility_slug"


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


def _signed_in_utility(request: HttpRequest, slug: str) -> Utility | None:
    """Reuse the utility the signed-in member was loaded with (one query fewer per page)."""
    if not request.COOKIES.get(settings.SESSION_COOKIE_NAME):
        return None  # anonymous: do not load a session just to find out
    utility = getattr(getattr(request, "user", None), "utility", None)
    return utility if utility is not None and utility.slug == slug else None

from __future__ import annotations

from django.http import HttpRequest


def utility(request: HttpRequest) -> dict:
    """Make the request's utility available to every template as ``utility``."""
    return {"utility": getattr(request, "utility", None)}

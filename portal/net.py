"""The client's address, as seen through the configured number of reverse proxies."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest | None) -> str:
    """Return the client address: REMOTE_ADDR, or the one the outermost trusted proxy saw.

    With ``PROXY_COUNT`` proxies in front (load balancer, nginx), the last N entries of
    X-Forwarded-For were written by them and the one before those is the client. Anything
    further left was written by the client itself and is never trusted.
    """
    if request is None:
        return "-"
    proxies = settings.PORTAL_PROXY_COUNT
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR") or "unknown"

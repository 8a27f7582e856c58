"""The client's address, as seen through the configured number of reverse proxies."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest | None) -> str:
    """Return the client address: REMOTE_ADDR, or the one the outermost trusted proxy saw.

    With ``PROXY_COUNT`` proxies in front (load balancer, nginx), the last N entries of
    X-Forwarded-For were written by them and the one before those is the client. Anything
    further left was written by the client itself and is never trusted. An entry that is
    no IP address at all (a misconfigured proxy, or none where PROXY_COUNT says one) falls
    back to REMOTE_ADDR: lockouts and the audit log store addresses, and must never fail.
    """
    if request is None:
        return "-"
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    proxies = settings.PORTAL_PROXY_COUNT
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= proxies:
            try:
                return str(ipaddress.ip_address(hops[-proxies]))
            except ValueError:
                return remote
    return remote

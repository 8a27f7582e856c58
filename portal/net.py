"""The client's address, as seen through the configured number of reverse proxies."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

# An IPv6 subscriber gets at least a /64 (RFC 6177): every address in it is one client.
IPV6_CLIENT_PREFIX = 64


def client_ip(request: HttpRequest | None) -> str:
    """Return the client address that lockouts, rate limits and the audit log all count by.

    With ``PROXY_COUNT`` proxies in front (load balancer, nginx), the last N entries of
    X-Forwarded-For were written by them and the one before those is the client. Anything
    further left was written by the client itself and is never trusted. An entry that is
    no IP address at all (a misconfigured proxy, or none where PROXY_COUNT says one) falls
    back to REMOTE_ADDR: lockouts and the audit log store addresses, and must never fail.

    One client, one value: an IPv4-mapped IPv6 address (``::ffff:10.3.3.3``) is its IPv4
    address, and an IPv6 address is the first address of its /64 (``2001:db8:1:2::``),
    since one household or phone can pick any address in that network.
    """
    if request is None:
        return "-"
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    candidate = remote
    proxies = settings.PORTAL_PROXY_COUNT
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= proxies:
            candidate = hops[-proxies]
    for text in (candidate, remote):
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if address.version == 6 and address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        if address.version == 6:
            network = ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False)
            return str(network.network_address)
        return str(address)
    return remote

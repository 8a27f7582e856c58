"""The client's address, as seen through the configured number of reverse proxies."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re

from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger(__name__)

# An IPv6 subscriber gets at least a /64 (RFC 6177): every address in it is one client.
IPV6_CLIENT_PREFIX = 64
# A value that is no address is counted as an address of the discard-only prefix 100::/64
# (RFC 6666): it stays a valid value for axes' address column and the limiter's keys, and
# no real client has one.
UNPARSED_PREFIX = ipaddress.IPv6Address("100::")
# How proxies write one client: ``ip``, ``ip:port`` (Azure Application Gateway),
# ``[v6]`` or ``[v6]:port``. A bare v6 address is all address: its colons are no port.
_BRACKETED = re.compile(r"\[(?P<host>[^\[\]]+)\](?::(?P<port>\d{1,5}))?")
_IPV4_WITH_PORT = re.compile(r"(?P<host>[0-9.]+):(?P<port>\d{1,5})")
# Logged once per process: a value that is no address means a proxy this code does not
# understand, or a PROXY_COUNT that says more proxies than there are.
_warned = False


def client_ip(request: HttpRequest | None) -> str:
    """Return the client address that lockouts, rate limits and the audit log all count by.

    With ``PROXY_COUNT`` proxies in front (load balancer, nginx), the last N entries of
    X-Forwarded-For were written by them and the one before those is the client. Anything
    further left was written by the client itself and is never trusted. Without the header
    (a request that did not come through the proxies) the socket's address is the client.

    One client, one value: a port is dropped, an IPv4-mapped IPv6 address
    (``::ffff:10.3.3.3``) is its IPv4 address, and an IPv6 address is the first address of
    its /64 (``2001:db8:1:2::``), since one household or phone can pick any address in that
    network. An entry that is still no address (``0x0a.3.9.9``, ``unknown``) is a client of
    its own (``unparsed_bucket``), never the balancer: otherwise every such client would
    share the balancer's lockout and limits.
    """
    if request is None:
        return "-"
    written = request.META.get("REMOTE_ADDR") or ""
    proxies = settings.PORTAL_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded.strip():
        # Empty entries keep their place: an empty last entry is the proxy's, and reading
        # past it would trust what the client wrote.
        hops = [hop.strip() for hop in forwarded.split(",")]
        if len(hops) >= proxies:
            written = hops[-proxies]
    address = parse_address(written)
    if address is None:
        return unparsed_bucket(written)
    if address.version == 6 and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if address.version == 6:
        network = ipaddress.IPv6Network((int(address), IPV6_CLIENT_PREFIX), strict=False)
        return str(network.network_address)
    return str(address)


def parse_address(written: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Return the address a proxy wrote (``ip``, ``ip:port``, ``[v6]``, ``[v6]:port``), or None.

    Only canonical spellings are addresses: the legacy ones inet_aton() reads
    (``010.003.009.009`` octal or decimal?, ``167971081``, ``0x0a.3.9.9``) are refused, as
    Python's ipaddress refuses them; no proxy writes them.
    """
    text = written.strip()
    if match := _BRACKETED.fullmatch(text):
        host, version = match["host"], 6
    elif match := _IPV4_WITH_PORT.fullmatch(text):
        host, version = match["host"], 4
    else:
        host, version = text, None
    if match and match["port"] is not None and not 0 < int(match["port"]) < 65536:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if version is not None and address.version != version:
        return None  # [10.0.0.1] or a v6 address with a port and no brackets
    return address


def unparsed_bucket(written: str) -> str:
    """Return the stand-in address of a client whose proxy wrote no address: 100::<hash>.

    The same value is the same client (one bucket for its failures and its limits), any
    other value another, and none is the balancer's.
    """
    _warn_once(written)
    digest = hashlib.sha256(written.strip().encode("utf-8", "surrogatepass")).digest()
    return str(UNPARSED_PREFIX + int.from_bytes(digest[:8], "big"))


def _warn_once(written: str) -> None:
    global _warned
    if _warned:
        return
    _warned = True
    logger.warning(
        "client address %r is no IP address; such clients are each counted by a hash of what "
        "was written (100::/64). Check PROXY_COUNT and what the proxies write in "
        "X-Forwarded-For. (Said once per process.)",
        written[:100],
    )

"""Rate limits: a thin wrapper over django-ratelimit, used by accounts and billing.

Counters live in the cache named by RATELIMIT_USE_CACHE (share it between workers with
CACHE_URL=redis://...). Keys are hashed, so the cache never holds an address in clear.
Rates are read at call time from ``PORTAL_*`` settings, with each Limit's default.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    group: str
    setting: str
    default: str

    @property
    def rate(self) -> str:
        return getattr(settings, self.setting, self.default)


class RateLimited(Exception):
    """Too many requests; ``retry_minutes`` says when the oldest window ends."""

    def __init__(self, retry_seconds: int) -> None:
        super().__init__(f"rate limited for {retry_seconds}s")
        self.retry_seconds = max(retry_seconds, 1)

    @property
    def retry_minutes(self) -> int:
        return math.ceil(self.retry_seconds / 60)


def _hashed(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class LimiterUnavailable(RateLimited):
    """The cache that holds the counters cannot be reached: refuse (503) rather than not count.

    Mail-sending forms are what the limits protect; letting them through uncounted while
    Redis is down would let anyone mail anyone without limit.
    """

    def __init__(self) -> None:
        super().__init__(60)


def hit(request: HttpRequest, limit: Limit, value: str) -> None:
    """Count one request against ``limit`` for ``value``; raise RateLimited when over it."""
    try:
        usage = get_usage(
            request,
            group=limit.group,
            key=lambda group, req: _hashed(value),
            rate=limit.rate,
            increment=True,
        )
    except Exception as exc:  # noqa: BLE001 - redis, memcached and socket errors alike
        logger.warning("rate-limit cache unavailable: %s", exc)
        raise LimiterUnavailable from exc
    if usage and usage["should_limit"]:
        if usage["time_left"] < 0:  # django-ratelimit's answer when the cache failed
            raise LimiterUnavailable
        raise RateLimited(usage["time_left"])


def hit_all(request: HttpRequest, *checks: tuple[Limit, str]) -> None:
    """Count the request against every limit, then raise for the one ending last."""
    over: list[RateLimited] = []
    for limit, value in checks:
        try:
            hit(request, limit, value)
        except RateLimited as exc:
            over.append(exc)
    if over:
        raise max(over, key=lambda exc: exc.retry_seconds)

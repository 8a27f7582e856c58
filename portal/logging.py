"""Every log line carries the id of the request it belongs to (X-Request-ID)."""

from __future__ import annotations

import logging
from contextvars import ContextVar

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Add ``request_id`` to every record: the request's own (django.request) or the current one."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "id", None) or REQUEST_ID.get()
        return True

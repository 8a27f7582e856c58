"""Rendered usage pages kept in the shared cache until the readings behind them change.

A resident's dashboard, history and CSV change only when readings, contracts or the utility
change, yet each view cost two to four times a whole signed-in request to rebuild (issue 17's
profile: the readings queries and rendering 24-row tables). So the finished page is kept in
the shared cache (Redis in production, so every server sees the same entries; nothing is kept
in a worker), keyed by what makes it differ, and stored with the readings generation it was
built under:

- the key: the member, the utility and the page asked for (path, page number, and for the
  dashboard without a number the contract last chosen), today's date (a bill's 納期限
  passes with no row changed) and the language (the switch shows the page in another);
- the **readings generation**: one number in the cache, fetched with the page in one round
  trip. Every import of customers or readings, and every save or delete of a reading,
  contract, utility or a member's link to a contract (the admin, approvals; accounts connects
  ContractLink), moves it on, once at the change and again after its transaction commits, so
  a page built from the rows as they were before the commit never matches the number in use.
  An entry of another generation is built anew: a new import shows at once;
- nothing per request is stored: the CSRF token of the logout form is put in as the page is
  served, and a page with a message to show (e.g. after a change) is never taken from or put
  in the cache.

A page is only ever built after the member's contracts were read and the number checked (a
number not linked to the member is a 404, never stored), and any change of a link drops every
page, so a page served from the cache is one the member may see now.
Only with a shared cache (``PORTAL_PAGE_CACHE``, on when ``CACHE_URL`` is set): in each
process's own memory a change made in one process would leave the others' entries standing.
If the cache cannot be reached, pages are built as before and the failure is logged. (If it
could not be reached just when a change moved the generation on, its pages may be served
until they expire, an hour at most: PAGE_SECONDS.)
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.translation import get_language

logger = logging.getLogger("billing.pagecache")

GENERATION_KEY = "billing.readings_generation"
# Long enough to serve a resident's whole visit. It also bounds how long a page can stay stale
# if the cache could not be reached at the moment a change moved the generation on.
PAGE_SECONDS = 60 * 60
# Stands in for the masked CSRF token while a page is rendered for the cache: the same length
# and alphabet as a real one, and no other text of a page looks like it.
CSRF_PLACEHOLDER = "csrfplaceholder" + "0" * 49
# Only these query strings are cached (the history's page number); any other is built afresh.
_CACHEABLE_QUERY = re.compile(r"^(page=\d{1,4})?$")


def usage_data_changed() -> None:
    """Make every cached usage page stale: call after readings, bills, contracts or utilities
    change.

    The generation moves on at once and again when the transaction commits: a page built in
    between from the rows as they were before the commit is stored under a number that is
    never asked for again.
    """
    move_on(GENERATION_KEY)


def connect_signals() -> None:
    """Drop the pages whenever a reading, contract or utility (or one of its texts in another
    language) is saved or deleted one by one.

    The importers write in bulk (no signals) and call ``usage_data_changed`` themselves.
    """
    from django.db.models.signals import post_delete, post_save

    from portal.models import Utility, UtilityText

    from .models import Customer, MeterReading, Payment

    # A utility's texts in another language (the data note, the contact block) are on the pages.
    for model in (MeterReading, Payment, Customer, Utility, UtilityText):
        for signal in (post_save, post_delete):
            signal.connect(model_changed, sender=model, dispatch_uid=f"pagecache.{model.__name__}")


def model_changed(sender, **kwargs) -> None:
    usage_data_changed()


def move_on(generation_key: str, seconds: int | None = None) -> None:
    """Make every entry stored under ``generation_key`` stale, now and again at commit.

    The same two steps as ``usage_data_changed``, for any generation (the notices use one per
    utility and one per member; ``seconds`` is how long an unused one is kept, None: always).
    """
    _next_generation(generation_key, seconds)
    transaction.on_commit(lambda: _next_generation(generation_key, seconds))


def _next_generation(generation_key: str = GENERATION_KEY, seconds: int | None = None) -> None:
    try:
        cache.incr(generation_key)
    except ValueError:  # not in the cache (first use, evicted): a number never used before
        cache.set(generation_key, time.time_ns(), timeout=seconds)
    except Exception as error:  # noqa: BLE001 - the cache is down: nothing is served from it either
        logger.warning("could not move the generation %s on: %r", generation_key, error)


def page(
    request: HttpRequest,
    name: str,
    build: Callable[[dict], tuple[HttpResponse, int | None]],
    also: list[tuple[str | tuple[str, ...], str, int | None]] | None = None,
) -> tuple[HttpResponse, int | None, list]:
    """Return the page ``build(extra_context)`` makes, the contract it shows, and
    ``lookup_many(also)``; the page cached, and looked up in the same round trip as ``also``.

    ``build`` reads the member's contracts, chooses the one to show (a 404 for a number not the
    member's) and renders with ``extra_context`` in the template's context (it carries the CSRF
    placeholder while a page is rendered for the cache). It runs only when the page is not in
    the cache under the current generation.
    """
    also = also or []
    if not _cacheable(request):
        return (*build({}), lookup_many(also) if also else [])
    key = _key(request, name)
    (generation, entry), *found = lookup_many([(GENERATION_KEY, key, None), *also])
    if entry is None:
        response, contract = build({"csrf_token": CSRF_PLACEHOLDER})
        body = response.content
        if response.status_code == 200:
            store(key, generation, (body, contract))
    else:
        (body, contract), response = entry, HttpResponse(content_type="text/html; charset=utf-8")
    response.content = body.replace(CSRF_PLACEHOLDER.encode(), get_token(request).encode())
    return response, contract, found


def download(
    request: HttpRequest, name: str, build: Callable[[], tuple[bytes, int | None]]
) -> tuple[bytes, int | None]:
    """Return the file ``build()`` makes and the contract it is of, cached like a page."""
    if _CACHEABLE_QUERY.match(request.META.get("QUERY_STRING", "")) is None:
        return build()  # a made-up query string gets no entry of its own
    key = _key(request, name)
    generation, entry = _lookup(key)
    if entry is None:
        entry = build()
        store(key, generation, entry)
    return entry


def _lookup(key: str) -> tuple[int | None, tuple | None]:
    """Return the current readings generation and the entry if it was stored under it."""
    return lookup_many([(GENERATION_KEY, key, None)])[0]


def lookup_many(
    wanted: list[tuple[str | tuple[str, ...], str, int | None]],
) -> list[tuple[object | None, object | None]]:
    """For each (generation key, key, generation's lifetime): the current generation, and the
    entry stored under ``key`` if it was stored under that generation (else None).

    One round trip to the cache for all of them: a generation is stored with its entries, not
    in their keys. A tuple of generation keys makes an entry stale when any of them moves on
    (its generation is the tuple of their numbers). (None, None) each when the cache does not
    answer: build, and store nothing.
    """
    wanted = [(_as_tuple(generations), key, seconds) for generations, key, seconds in wanted]
    if not settings.PORTAL_PAGE_CACHE:  # a cache of each process's own: nothing kept in it
        return [(None, None)] * len(wanted)
    try:
        found = cache.get_many([k for generations, key, _ in wanted for k in (*generations, key)])
        for generations, _, seconds in wanted:
            for generation_key in generations:
                if found.get(generation_key) is None:
                    cache.add(generation_key, time.time_ns(), timeout=seconds)
                    found[generation_key] = cache.get(generation_key)
    except Exception as error:  # noqa: BLE001 - a cache that does not answer: build the page
        # One line, no traceback: with Redis down every request comes here (and a server's
        # stderr is no place for a traceback a request).
        logger.warning("page cache unavailable: %r", error)
        return [(None, None)] * len(wanted)
    result = []
    for generations, key, _ in wanted:
        numbers = tuple(found[generation_key] for generation_key in generations)
        generation = numbers[0] if len(numbers) == 1 else numbers
        stored_generation, entry = found.get(key, (None, None))
        result.append((generation, entry if stored_generation == generation else None))
    return result


def _as_tuple(generations: str | tuple[str, ...]) -> tuple[str, ...]:
    return (generations,) if isinstance(generations, str) else generations


def store(key: str, generation: object | None, entry: object, seconds: int = PAGE_SECONDS) -> None:
    """Keep ``entry`` under ``key`` with the generation ``lookup_many`` gave before it was built."""
    if generation is None:
        return
    try:
        cache.set(key, (generation, entry), seconds)
    except Exception as error:  # noqa: BLE001
        logger.warning("page cache unavailable: %r", error)


def _cacheable(request: HttpRequest) -> bool:
    """A GET with no message waiting to be shown and no query string but a page number."""
    return (
        request.method == "GET"
        and _CACHEABLE_QUERY.match(request.META.get("QUERY_STRING", "")) is not None
        and not len(messages.get_messages(request))  # len() reads them without using them up
    )


def _key(request: HttpRequest, name: str) -> str:
    # Today's date: a bill unpaid yesterday is overdue today with no row changed.
    day = timezone.localdate().isoformat()
    # The language: a page switched to English is another page (words, dates, amounts).
    language = get_language()
    parts = (
        f"{request.user.pk}|{request.utility.pk}|{name}|{request.get_full_path()}|{day}|{language}"
    )
    return "billing.page:" + hashlib.sha256(parts.encode()).hexdigest()

"""Markers views carry for the middleware."""

from __future__ import annotations

from collections.abc import Callable


def open_all_hours(view: Callable) -> Callable:
    """Keep an information page reachable while the utility's portal is closed.

    The guide, the FAQ, the contact pages and the terms hold nothing personal and are what a
    resident reads while waiting for the portal to open (accounts.middleware).
    """
    view.open_all_hours = True  # type: ignore[attr-defined]
    return view


def mailed_link(view: Callable) -> Callable:
    """Mark a page opened from a link in a mail. While the portal is closed its closed page
    says that the link still works once the portal opens (a link's lifetime counts only open
    hours), instead of leaving the resident to think it was lost."""
    view.mailed_link = True  # type: ignore[attr-defined]
    return view


def resumes_at(url_name: str, label: str) -> Callable[[Callable], Callable]:
    """Name the page a resident goes on from when a POST-only step is opened by GET.

    A reload, a bookmark or a reopened tab asks for the step again by GET; the 405 page
    (portal.middleware.MethodNotAllowedPageMiddleware) links ``url_name`` of the same utility,
    with ``label`` as its words. Without a mark it links the utility's login page.
    """

    def mark(view: Callable) -> Callable:
        view.resumes_at = (url_name, label)  # type: ignore[attr-defined]
        return view

    return mark

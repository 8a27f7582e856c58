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

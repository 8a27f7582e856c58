"""Real-browser tests: Playwright driving Debian's Chromium against pytest-django's live_server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

# A login hashes its password in a thread below the pages' priority (accounts/hashers.py), and a
# reset hashes the new one: on a machine busy with other suites that took longer than
# Playwright's 5 s default to reach the next page (seen twice at load 15-20, never when quiet).
# The assertions wait for what a resident waits for; 15 s is the budget a busy machine needs.
expect.set_options(timeout=15_000)

# Playwright runs an event loop in this thread; Django's ORM must still be usable from tests.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium"))
REQUIRED = os.environ.get("PORTAL_E2E_REQUIRED") == "1"


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    if REQUIRED:
        raise pytest.UsageError(
            f"PORTAL_E2E_REQUIRED=1 but {CHROMIUM} is missing: apt-get install chromium"
        )
    skip = pytest.mark.skip(
        reason=f"{CHROMIUM} not found: install Debian's chromium "
        "(sudo apt-get install --no-install-recommends chromium fonts-ipafont-gothic) "
        "to run the real-browser tests"
    )
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def browser_context_args(browser_context_args):
    # A phone-sized screen: the portal is mobile-first.
    return {**browser_context_args, "viewport": {"width": 375, "height": 812}, "locale": "ja-JP"}


@pytest.fixture
def demo_data(transactional_db):
    """The two seed utilities and the demo residents, as `make demo` loads them."""
    from django.core.management import call_command

    call_command("loaddata", "utilities", verbosity=0)
    call_command("load_demo", verbosity=0)


@pytest.fixture
def daytime():
    """Travel to 10:00 in Japan today (ticking), inside every utility's opening hours."""
    import datetime
    from zoneinfo import ZoneInfo

    import time_machine

    jst = ZoneInfo("Asia/Tokyo")
    today = datetime.datetime.now(jst).date()
    with time_machine.travel(datetime.datetime.combine(today, datetime.time(10), jst), tick=True):
        yield

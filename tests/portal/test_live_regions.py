"""Status messages are announced: a live region a screen reader reads out when it fills."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib import messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

pytestmark = pytest.mark.django_db


class _Regions(HTMLParser):
    """Collect each element with a live role and the text inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.regions: list[dict] = []
        self._open: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("role") in ("status", "alert"):
            region = {"tag": tag, "role": attrs["role"], "live": attrs.get("aria-live"), "text": ""}
            self.regions.append(region)
            self._open.append(region)
        elif self._open:
            self._open.append({})

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for region in self._open:
            if "text" in region:
                region["text"] += data


def _regions(html: str) -> list[dict]:
    parser = _Regions()
    parser.feed(html)
    return parser.regions


def test_logout_message_is_in_a_polite_status_region(client, user):
    client.force_login(user)
    response = client.post(reverse("accounts:logout", args=[user.utility.slug]), follow=True)
    regions = [r for r in _regions(response.content.decode()) if "ログアウトしました" in r["text"]]
    assert regions, response.content.decode()
    # A list keeps its own role (a <ul role="status"> is no list to a screen reader, and axe
    # refuses its items): the region is the block around it.
    assert regions[0]["tag"] == "div"
    assert regions[0]["role"] == "status"
    assert regions[0]["live"] == "polite"


def test_an_error_message_is_an_alert_and_a_success_is_not():
    request = RequestFactory().get("/")
    request.session = {}
    request._messages = FallbackStorage(request)
    messages.error(request, "送信できませんでした。")
    messages.success(request, "変更しました。")
    html = render_to_string("includes/_messages.html", {"messages": messages.get_messages(request)})
    by_role = {r["role"]: r["text"] for r in _regions(html)}
    assert "送信できませんでした" in by_role["alert"]
    assert "変更しました" not in by_role["alert"]
    assert "変更しました" in by_role["status"]

"""One language served: every page in Japanese, whatever the browser asks for (issue 17 made
the negotiation a no-op while LANGUAGES has one entry; issue 22 will add languages)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.cache import has_vary_header

pytestmark = pytest.mark.django_db


def test_a_browser_asking_for_english_reads_japanese(client, utility):
    client.cookies["django_language"] = "en"
    response = client.get(
        reverse("accounts:login", args=[utility.slug]), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9"
    )
    assert response["Content-Language"] == "ja"
    assert "ログイン" in response.content.decode()
    assert not has_vary_header(response, "Accept-Language")  # no page varies by it


def test_with_a_second_language_django_negotiates_as_before(client, utility, settings):
    settings.LANGUAGES = [("ja", "日本語"), ("en", "English")]
    url = reverse("accounts:login", args=[utility.slug])
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response["Content-Language"] == "en"
    assert has_vary_header(response, "Accept-Language")
    assert client.get(url, HTTP_ACCEPT_LANGUAGE="ja")["Content-Language"] == "ja"

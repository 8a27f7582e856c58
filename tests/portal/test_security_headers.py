from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_pages_send_a_strict_content_security_policy(client, utility):
    response = client.get(reverse("accounts:login", args=[utility.slug]))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(
    "url_name", ["accounts:login", "portal:guide", "portal:faq", "portal:terms"]
)
def test_pages_have_no_inline_script_or_style(client, utility, url_name):
    html = client.get(reverse(url_name, args=[utility.slug])).content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " style=" not in html
    assert "<style" not in html


def test_session_and_csrf_cookies_are_httponly(client, user):
    client.post(
        reverse("accounts:login", args=[user.utility.slug]),
        {"identifier": user.login_id, "password": "suido2026"},
    )
    assert client.cookies["sessionid"]["httponly"]
    assert client.cookies["sessionid"]["samesite"] == "Lax"

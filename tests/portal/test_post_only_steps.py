"""Opening a step that only answers a form's button (a reload, a bookmark, a reopened tab).

Chromium shows an empty 405 as the English 「HTTP ERROR 405」. Every such URL under a utility
answers a Japanese page that says where to go on instead, found by walking the URLconf, so a
POST-only step added later gets the same page.
"""

from __future__ import annotations

import datetime
from http import HTTPStatus

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from pytest_django.asserts import assertContains

pytestmark = pytest.mark.django_db

# Where a resident goes on from each step a button posts to (at least these exist).
RESUME_AT = {
    "accounts:signup_back": "accounts:signup_details",
    "accounts:signup_confirm": "accounts:signup_details",
    "accounts:signup_complete": "accounts:signup_details",
    "accounts:signup_code_resend": "accounts:signup_code",
    "accounts:logout": "accounts:login",
}
SAMPLE_KWARGS = {
    "token": "x",
    "number": "10000000000001",
    "period_end": datetime.date(2025, 5, 25),
    "pk": 1,  # an お知らせ
}


def _utility_url_names() -> dict[str, list[str]]:
    """Every named URL under /<utility>/ with the names of its arguments."""
    names: dict[str, list[str]] = {}
    for top in get_resolver().url_patterns:
        if not isinstance(top, URLResolver) or "utility_slug" not in str(top.pattern):
            continue
        for pattern in top.url_patterns:
            if isinstance(pattern, URLPattern) and pattern.name:
                names[f"{top.namespace}:{pattern.name}"] = list(pattern.pattern.converters)
    return names


def _url(name: str, params: list[str], slug: str) -> str:
    return reverse(name, kwargs={"utility_slug": slug, **{p: SAMPLE_KWARGS[p] for p in params}})


def test_every_post_only_step_opened_by_get_says_where_to_go_on(logged_in_client, utility):
    refused = {}
    for name, params in _utility_url_names().items():
        response = logged_in_client.get(_url(name, params, utility.slug))
        if response.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
            refused[name] = response
    assert set(RESUME_AT) <= set(refused), sorted(refused)
    for name, response in refused.items():
        assert "POST" in response["Allow"], name
        assertContains(response, "この画面は再表示できません", status_code=405)
        assertContains(response, '<html lang="ja">', status_code=405)
        assertContains(response, utility.contact_block.splitlines()[0], status_code=405)
        resume = reverse(RESUME_AT.get(name, "accounts:login"), args=[utility.slug])
        assertContains(response, f'href="{resume}"', status_code=405)


def test_reopening_nayoros_not_found_state_leads_back_to_the_details(client, utility):
    """The 「該当する契約が見つかりませんでした」 page lives at /signup/complete/ (a POST)."""
    response = client.get(reverse("accounts:signup_complete", args=[utility.slug]))
    assertContains(response, "この画面は再表示できません", status_code=405)
    assertContains(response, "入力画面に戻る", status_code=405)
    details = reverse("accounts:signup_details", args=[utility.slug])
    assertContains(response, f'href="{details}"', status_code=405)


def test_a_post_only_url_outside_a_utility_keeps_djangos_answer(admin_client):
    response = admin_client.get(reverse("admin:logout"))
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert "この画面は再表示できません" not in response.content.decode()

"""Error pages under /<utility>/ keep that utility: its header, its contact block, its top page.

A resident who mistypes an address or whose form sat open too long (the CSRF token expired)
still needs the number to call and a way back to their own utility's login, not the list of
every utility.
"""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

pytestmark = pytest.mark.django_db


def assert_the_utilitys_page(response, utility, status: int) -> None:
    assert response.status_code == status
    assertContains(response, '<html lang="ja">', status_code=status)
    top = utility.get_absolute_url()
    header = f'<p class="site-name"><a href="{top}">{utility.portal_name}</a></p>'
    assertContains(response, header, status_code=status)
    assertContains(response, utility.contact_block.splitlines()[0], status_code=status)
    assertContains(response, 'href="tel:0312345678"', status_code=status)  # line 2's phone
    home = f'<a href="{top}">← {utility.portal_name}のトップページへ</a>'
    assertContains(response, home, status_code=status, html=True)
    assertNotContains(response, "ポータルのトップページへ", status_code=status)


def test_a_page_not_found_under_a_utility_keeps_the_utility(client, utility):
    response = client.get(f"/{utility.slug}/no-such-page/")
    assert_the_utilitys_page(response, utility, HTTPStatus.NOT_FOUND)
    assertContains(response, "ページが見つかりません", status_code=404)


def test_a_contract_not_found_keeps_the_utility(logged_in_client, utility):
    response = logged_in_client.get(
        reverse("billing:contract", args=[utility.slug, "99999999999999"])
    )
    assert_the_utilitys_page(response, utility, HTTPStatus.NOT_FOUND)


def test_an_expired_form_keeps_the_utility(utility):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(
        reverse("accounts:login", args=[utility.slug]), {"identifier": "a", "password": "b"}
    )
    assert_the_utilitys_page(response, utility, HTTPStatus.FORBIDDEN)
    assertContains(response, "このページは表示できません", status_code=403)


def test_an_unknown_utility_gets_the_portals_page(client, utility):
    response = client.get("/no-such-city/")
    assertContains(response, "ページが見つかりません", status_code=404)
    assertContains(response, f'href="{reverse("index")}"', status_code=404)
    assertNotContains(response, utility.contact_block.splitlines()[1], status_code=404)

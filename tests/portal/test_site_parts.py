"""The header and footer are rendered once per process and reused (issue 17), yet never stale
and never another visitor's: a part is keyed by every value it shows.

Each test first shows a page so that its parts are kept, then changes what they show or who
looks, and looks again at once.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from portal.templatetags import site_parts
from tests.factories import MemberFactory, UtilityFactory

pytestmark = pytest.mark.django_db

LOGOUT_FORM = '<form class="logout-form"'

LOGOUT_TOKEN = re.compile(
    r'<form class="logout-form"[^>]*>\s*<input type="hidden" name="csrfmiddlewaretoken" '
    r'value="([^"]+)">'
)


@pytest.fixture(autouse=True)
def _fresh_parts():
    site_parts._rendered.cache_clear()
    yield
    site_parts._rendered.cache_clear()


def signed_in_page(utility) -> str:
    return reverse("accounts:profile", args=[utility.slug])


def open_page(utility) -> str:
    return reverse("portal:faq", args=[utility.slug])


def test_a_new_name_and_contact_block_show_on_the_next_page(logged_in_client, utility):
    for path in (signed_in_page(utility), open_page(utility)) * 2:
        assertContains(logged_in_client.get(path), utility.portal_name)
    utility.portal_name = "新市上下水道ポータル"
    utility.contact_block = "新市水道局 料金課\n電話 0120-123-456(平日 9:00〜17:00)"
    utility.save()
    for client, path in (
        (logged_in_client, signed_in_page(utility)),
        (logged_in_client, open_page(utility)),
        (Client(), open_page(utility)),
    ):
        response = client.get(path)
        assertContains(response, f'<a href="/{utility.slug}/">新市上下水道ポータル</a>')
        assertContains(response, "新市水道局 料金課")
        assertContains(response, '<a href="tel:0120123456">0120-123-456</a>')
        assertNotContains(response, "見本市水道局お客さまサービス課")
        assertNotContains(response, "03-1234-5678")


def test_each_utility_gets_its_own_parts(client, utility):
    other = UtilityFactory(contact_block="別市水道部\n電話 011-222-3333")
    for first, second in ((utility, other), (other, utility)):
        client.get(open_page(first))
        response = client.get(open_page(second))
        assertContains(response, second.portal_name)
        assertContains(response, second.contact_block.splitlines()[0])
        assertNotContains(response, first.portal_name)
        assertNotContains(response, first.contact_block.splitlines()[0])
        assertNotContains(response, reverse("portal:terms", args=[first.slug]))


def test_a_guest_never_gets_a_signed_in_header(logged_in_client, utility):
    assertContains(logged_in_client.get(open_page(utility)), LOGOUT_FORM)
    guest = Client().get(open_page(utility))
    assertContains(guest, utility.portal_name)
    assertNotContains(guest, LOGOUT_FORM)
    assertNotContains(guest, 'class="account-link"')
    # A member of another utility is a guest here, on the page just kept for a member.
    other = UtilityFactory()
    stranger = Client()
    stranger.force_login(MemberFactory(utility=other))
    page = stranger.get(open_page(utility))
    assertContains(page, utility.portal_name)
    assertNotContains(page, LOGOUT_FORM)
    # and the signed-in header comes back for a member of this one.
    assertContains(logged_in_client.get(open_page(utility)), LOGOUT_FORM)


def test_the_logout_form_carries_each_visitors_own_token(utility):
    clients = []
    for _ in range(2):
        client = Client(enforce_csrf_checks=True)
        client.force_login(MemberFactory(utility=utility))
        clients.append(client)
    tokens = []
    for client in clients:
        page = client.get(signed_in_page(utility)).content.decode()
        tokens.append(LOGOUT_TOKEN.search(page).group(1))
    assert tokens[0] != tokens[1]
    for client, token in zip(clients, tokens, strict=True):
        logout = client.post(
            reverse("accounts:logout", args=[utility.slug]), {"csrfmiddlewaretoken": token}
        )
        assert logout.status_code == 302  # accepted: the token is this visitor's
        assertNotContains(client.get(open_page(utility)), LOGOUT_FORM)


def test_a_part_is_rendered_once_for_many_pages(logged_in_client, utility):
    for _ in range(5):
        logged_in_client.get(signed_in_page(utility))
    info = site_parts._rendered.cache_info()
    assert info.misses == 3  # head, header, footer
    assert info.hits == 12

"""HEAD on every page a resident can open, and a Japanese page for a form posted to a page
that takes no form (an outside review: uptime monitors and link checkers ask HEAD and got 405
on every HTML page; a POST to a GET-only page showed a blank page)."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import MeterReadingFactory

pytestmark = pytest.mark.django_db


def _resident_pages(member) -> list[str]:
    slug = member.utility.slug
    customer = member.contract_links.get().customer
    number = customer.number
    MeterReadingFactory(customer=customer)
    return [
        reverse("billing:dashboard", args=[slug]),
        reverse("billing:history", args=[slug, number]),
        reverse("billing:history_csv", args=[slug, number]),
        reverse("accounts:profile", args=[slug]),
        reverse("billing:notice_list", args=[slug]),
    ]


def test_every_resident_page_answers_head_as_it_answers_get(logged_in_client, user):
    login = reverse("accounts:login", args=[user.utility.slug])
    assert Client().head(login).status_code == HTTPStatus.OK
    for url in _resident_pages(user):
        got = logged_in_client.get(url)
        head = logged_in_client.head(url)
        assert got.status_code == HTTPStatus.OK, url
        assert head.status_code == HTTPStatus.OK, url
        assert head["Content-Type"] == got["Content-Type"], url


def test_a_form_posted_to_a_page_that_takes_none_gets_a_japanese_page(logged_in_client, user):
    url = reverse("billing:dashboard", args=[user.utility.slug])
    response = logged_in_client.post(url, {"x": "1"})
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    body = response.content.decode()
    assert "この操作は受け付けていません" in body
    assert url in body  # the way back to the page itself
    assert "GET" in response["Allow"]

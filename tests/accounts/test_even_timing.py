"""The time Nayoro's reset request takes must not tell whether an address is registered
(issue 18): the unknown branch renders and writes the same mail as the known one, in a
savepoint it rolls back, and hands its number to the worker, which finds nothing to send.
``bench/timing.py`` prints the medians."""

from __future__ import annotations

from http import HTTPStatus
from unittest import mock

import pytest
from django.urls import reverse

from portal import outbox
from portal.models import OutboxMail
from tests.factories import MemberFactory, UtilityFactory

pytestmark = pytest.mark.django_db

MAIL = "emails/accounts/password_reset_code_body.txt"


def test_an_unknown_address_does_the_known_ones_work_and_leaves_nothing(client, mailoutbox):
    nayoro = UtilityFactory(code_style=True)
    MemberFactory(utility=nayoro, login_id="", email="taro@example.jp")
    url = reverse("accounts:recovery", args=[nayoro.slug])
    handed = []
    queues = []

    def hand(pk, urgent=False):
        handed.append(pk)
        queues.append(urgent)

    with mock.patch.object(outbox, "hand_to_worker", side_effect=hand):
        known = client.post(url, {"email": "taro@example.jp"})
        client.cookies.clear()
        unknown = client.post(url, {"email": "nobody@example.jp"})
    assert known.status_code == unknown.status_code == HTTPStatus.FOUND
    assert known["Location"] == unknown["Location"]
    assert known.content == unknown.content
    # Both rendered the mail and handed a row's number to the worker ...
    assert MAIL in [t.name for t in known.templates]
    assert MAIL in [t.name for t in unknown.templates]
    assert len(handed) == 2
    assert queues == [True, True]  # the same queue, the one a code goes to
    # ... but only the member's row exists: nothing for staff to see, nothing to send.
    assert list(OutboxMail.objects.values_list("recipient", flat=True)) == ["taro@example.jp"]
    assert OutboxMail.objects.get().pk == handed[0]
    assert not OutboxMail.objects.filter(pk=handed[1]).exists()
    assert outbox.deliver(handed[1]) == "taken"
    assert not mailoutbox

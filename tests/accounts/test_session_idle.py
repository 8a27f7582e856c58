from __future__ import annotations

import datetime
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from pytest_django.asserts import assertContains

pytestmark = pytest.mark.django_db
START = datetime.datetime(2025, 4, 1, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo"))


def test_resident_is_signed_out_after_the_utilitys_idle_time(client, user):
    user.utility.session_idle_minutes = 30
    user.utility.save()
    dashboard = reverse("billing:dashboard", args=[user.utility.slug])
    with time_machine.travel(START, tick=False) as clock:
        client.force_login(user)
        assert client.get(dashboard).status_code == HTTPStatus.OK
        clock.move_to(START + datetime.timedelta(minutes=29))
        assert client.get(dashboard).status_code == HTTPStatus.OK  # activity renews the clock
        clock.move_to(START + datetime.timedelta(minutes=29 + 30))
        assert client.get(dashboard).status_code == HTTPStatus.OK
        clock.move_to(START + datetime.timedelta(minutes=29 + 30 + 31))
        response = client.get(dashboard, follow=True)
        assert "_auth_user_id" not in client.session
    assert response.redirect_chain[-1][0].startswith(
        reverse("accounts:login", args=[user.utility.slug])
    )
    assertContains(response, "一定の時間操作がなかったため、安全のためログアウトしました。")

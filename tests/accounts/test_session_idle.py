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
        # Signed out past the idle time plus the stamp's resolution (a minute at 30 minutes).
        clock.move_to(START + datetime.timedelta(minutes=29 + 30 + 31, seconds=1))
        response = client.get(dashboard, follow=True)
        assert "_auth_user_id" not in client.session
    assert response.redirect_chain[-1][0].startswith(
        reverse("accounts:login", args=[user.utility.slug])
    )
    assertContains(response, "一定の時間操作がなかったため、安全のためログアウトしました。")


def test_pages_between_the_sessions_writes_count_as_activity(client, user):
    """An outside review: with a 1-minute idle time, pages at 1 s and 46 s signed the resident
    out at 91 s, after only 45 s without a page — the session is written at most once per
    resolution, and the check read the last write as the last page. Never sign out early."""
    user.utility.session_idle_minutes = 1
    user.utility.save()
    dashboard = reverse("billing:dashboard", args=[user.utility.slug])
    with time_machine.travel(START, tick=False) as clock:
        client.force_login(user)
        for second in (1, 46, 91, 136, 181):  # a page every 45 s: never idle for a minute
            clock.move_to(START + datetime.timedelta(seconds=second))
            assert client.get(dashboard).status_code == HTTPStatus.OK, second
            assert "_auth_user_id" in client.session, second
        clock.move_to(START + datetime.timedelta(seconds=181 + 67))  # a minute and a bit idle
        client.get(dashboard)
        assert "_auth_user_id" not in client.session

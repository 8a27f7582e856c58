from __future__ import annotations

import datetime
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from tests.conftest import PASSWORD
from tests.factories import MemberFactory, UtilityFactory

pytestmark = pytest.mark.django_db
JST = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def kanazawa_hours():
    return UtilityFactory(opens_at=datetime.time(7, 0), closes_at=datetime.time(2, 0))


def at(hour: int, minute: int) -> datetime.datetime:
    return datetime.datetime(2025, 4, 1, hour, minute, tzinfo=JST)


@pytest.mark.parametrize(
    ("moment", "status", "retry_after"),
    [
        (at(6, 59), HTTPStatus.SERVICE_UNAVAILABLE, 60),
        (at(7, 0), HTTPStatus.OK, None),
        (at(1, 59), HTTPStatus.OK, None),
        (at(2, 0), HTTPStatus.SERVICE_UNAVAILABLE, 5 * 3600),
        (at(12, 0), HTTPStatus.OK, None),
        (at(23, 59), HTTPStatus.OK, None),
    ],
)
def test_hours_past_midnight_at_the_edges(client, kanazawa_hours, moment, status, retry_after):
    with time_machine.travel(moment, tick=False):
        response = client.get(reverse("accounts:login", args=[kanazawa_hours.slug]))
    assert response.status_code == status
    if retry_after is None:
        assert "Retry-After" not in response
    else:
        assert response["Retry-After"] == str(retry_after)
        assertContains(response, "ご利用可能時間は、毎日AM7:00〜AM2:00の間です。", status_code=503)


@pytest.mark.parametrize("moment", [at(0, 0), at(3, 30), at(23, 59)])
def test_equal_hours_mean_always_open(client, moment):
    utility = UtilityFactory(opens_at=datetime.time(5, 0), closes_at=datetime.time(5, 0))
    with time_machine.travel(moment, tick=False):
        response = client.get(reverse("accounts:login", args=[utility.slug]))
    assert response.status_code == HTTPStatus.OK


def test_same_day_window_closes_in_the_evening(client):
    utility = UtilityFactory(opens_at=datetime.time(8, 30), closes_at=datetime.time(17, 15))
    url = reverse("accounts:login", args=[utility.slug])
    with time_machine.travel(at(17, 15), tick=False):
        response = client.get(url)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    # Next opening is tomorrow at 08:30: 15 h 15 min later.
    assert response["Retry-After"] == str(15 * 3600 + 15 * 60)
    assertContains(response, "AM8:30〜PM5:15", status_code=503)


def test_admin_static_and_healthz_stay_available_when_closed(client, kanazawa_hours, admin_client):
    with time_machine.travel(at(3, 0), tick=False):
        assert client.get(reverse("healthz")).status_code == HTTPStatus.OK
        assert client.get(reverse("index")).status_code == HTTPStatus.OK
        assert admin_client.get(reverse("admin:index")).status_code == HTTPStatus.OK


def test_a_post_after_closing_gets_the_closed_page_and_changes_nothing(client, kanazawa_hours):
    member = MemberFactory(utility=kanazawa_hours, tax_declaration="no")
    with time_machine.travel(at(7, 30), tick=False):
        client.force_login(member)
    with time_machine.travel(at(2, 0), tick=False):
        response = client.post(
            reverse("accounts:profile_tax", args=[kanazawa_hours.slug]),
            {"tax_declaration": "yes"},
        )
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert client.session["_auth_user_id"] == str(member.pk)
        response = client.post(
            reverse("accounts:login", args=[kanazawa_hours.slug]),
            {"identifier": member.login_id, "password": PASSWORD},
        )
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    before = member.tax_declaration
    member.refresh_from_db()
    assert member.tax_declaration == before


def test_logout_works_while_the_portal_is_closed(client, kanazawa_hours):
    """Finding 3 (issue 15 review): on a shared phone at 02:05 the resident can still log out."""
    member = MemberFactory(utility=kanazawa_hours)
    with time_machine.travel(at(7, 30), tick=False):
        client.force_login(member)
    with time_machine.travel(at(2, 5), tick=False):
        faq = client.get(reverse("portal:faq", args=[kanazawa_hours.slug]))
        assertContains(faq, "ログアウト")
        response = client.post(reverse("accounts:logout", args=[kanazawa_hours.slug]), follow=True)
        assert "_auth_user_id" not in client.session
        # The login page is closed, so it says so, with the hours, after 「ログアウトしました。」.
        assertContains(response, "ログアウトしました。", status_code=503)
        assertContains(response, "ご利用可能時間は", status_code=503)
        assertNotContains(response, "送信しようとした内容は受け付けていません", status_code=503)
        assertNotContains(response, "ログアウト</button>", status_code=503)
        faq = client.get(reverse("portal:faq", args=[kanazawa_hours.slug]))
    assertNotContains(faq, "ログアウト</button>")


def test_hours_text_reads_like_the_seed():
    assert (
        UtilityFactory.build(opens_at=datetime.time(7, 0), closes_at=datetime.time(2, 0)).hours_text
        == "毎日AM7:00〜AM2:00"
    )
    assert (
        UtilityFactory.build(
            opens_at=datetime.time(12, 0), closes_at=datetime.time(0, 30)
        ).hours_text
        == "毎日PM12:00〜AM0:30"
    )


@pytest.mark.parametrize("page", ["faq", "offices", "inquiry", "terms", "privacy", "guide"])
def test_information_pages_stay_open_while_the_portal_is_closed(client, kanazawa_hours, page):
    with time_machine.travel(at(3, 0), tick=False):
        response = client.get(reverse(f"portal:{page}", args=[kanazawa_hours.slug]))
    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize("name", ["accounts:login", "accounts:signup", "billing:dashboard"])
def test_member_pages_and_forms_are_closed(client, kanazawa_hours, name):
    with time_machine.travel(at(3, 0), tick=False):
        response = client.get(reverse(name, args=[kanazawa_hours.slug]))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE


def test_the_closed_page_says_nothing_was_received_only_after_a_post(client, kanazawa_hours):
    sentence = "送信しようとした内容は受け付けていません。"
    url = reverse("accounts:login", args=[kanazawa_hours.slug])
    with time_machine.travel(at(3, 0), tick=False):
        looked = client.get(url)
        posted = client.post(url, {"identifier": "suidotaro", "password": "x"})
    assert sentence not in looked.content.decode()
    assertContains(posted, sentence, status_code=503)
    assertContains(looked, reverse("portal:guide", args=[kanazawa_hours.slug]), status_code=503)


# Mailed links and codes live through closed hours (issue 15) ------------------------------


@pytest.mark.parametrize(
    ("issued", "lifetime", "deadline"),
    [
        (at(1, 40), datetime.timedelta(hours=1), at(7, 40)),
        (at(12, 0), datetime.timedelta(hours=1), at(13, 0)),
        (at(3, 0), datetime.timedelta(minutes=30), at(7, 30)),
        # 24 open hours from 01:40: 20 minutes, a 19-hour day, then 4 h 40 min.
        (
            at(1, 40),
            datetime.timedelta(hours=24),
            datetime.datetime(2025, 4, 2, 11, 40, tzinfo=JST),
        ),
    ],
)
def test_a_deadline_counts_only_open_hours(kanazawa_hours, issued, lifetime, deadline):
    assert kanazawa_hours.open_deadline(issued, lifetime) == deadline


def test_a_reset_link_mailed_just_before_closing_still_works_after_opening(
    client, kanazawa_hours, mailoutbox
):
    import re

    from django.contrib.auth.hashers import make_password

    from portal import normalize
    from tests.factories import ContractLinkFactory

    member = MemberFactory(
        utility=kanazawa_hours,
        email="taro@example.jp",
        secret_question="food",
        secret_answer_hash=make_password(normalize.secret_answer("バナナ")),
    )
    ContractLinkFactory(member=member, customer__number="10000000000001")
    with time_machine.travel(at(1, 40), tick=False):
        client.post(
            reverse("accounts:recovery", args=[kanazawa_hours.slug]),
            {"email": "taro@example.jp", "customer_number": "10000000000001"},
        )
        client.post(
            reverse("accounts:recovery_question", args=[kanazawa_hours.slug]), {"answer": "バナナ"}
        )
    body = mailoutbox[-1].body
    assert "有効期限は2025年4月1日 7:40までです。" in body
    link = re.search(r"https?://testserver(/\S+/recovery/link/\S+/)", body).group(1)
    with time_machine.travel(at(7, 30), tick=False):
        client.get(link)
        response = client.post(
            reverse("accounts:recovery_password", args=[kanazawa_hours.slug]),
            {"password": "mizu2027new", "password_confirm": "mizu2027new"},
        )
    assert response.status_code == HTTPStatus.FOUND


LINK_NOTE = (
    "メールでお送りしたURLの有効期限は、ご利用時間外の時間を除いて数えています。"
    "ご利用時間になりましたら、もう一度同じURLを開いてください。"
)


@pytest.mark.parametrize("name", ["signup_link", "recovery_link", "profile_email_link"])
def test_a_mailed_link_opened_while_closed_says_it_works_after_opening(
    client, kanazawa_hours, name
):
    """Finding 12 (issue 15 review): the generic closed page left the resident thinking the
    mailed link was lost, though it still works once the portal opens."""
    with time_machine.travel(at(3, 0), tick=False):
        response = client.get(reverse(f"accounts:{name}", args=[kanazawa_hours.slug, "abc"]))
        login = client.get(reverse("accounts:login", args=[kanazawa_hours.slug]))
    assertContains(response, LINK_NOTE, status_code=503)
    assertContains(response, "次は4月1日 7:00からご利用いただけます。", status_code=503)
    assertNotContains(login, LINK_NOTE, status_code=503)

"""The login page leads to moving/ whatever it offers, 名義変更 alone too; `make demo` ticks
名義変更 at kanazawa and nayoro (``manage.py offer_name_change``)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from moving.models import MovingSettings
from tests.factories import UtilityFactory

pytestmark = pytest.mark.django_db


def login_page(client, utility):
    return client.get(reverse("accounts:login", args=[utility.slug]))


def test_the_login_page_links_moving_when_only_name_change_is_offered(client):
    utility = UtilityFactory()
    moving = reverse("moving:index", args=[utility.slug])
    MovingSettings.objects.filter(utility=utility).update(
        offers_move_out=False, offers_move_in=False
    )
    assertNotContains(login_page(client, utility), moving)
    MovingSettings.objects.filter(utility=utility).update(offers_name_change=True)
    page = login_page(client, utility)
    assertContains(page, f'<a href="{moving}">名義変更のお申し込み</a>', html=True)
    MovingSettings.objects.filter(utility=utility).update(offers_move_in=True)
    assertContains(login_page(client, utility), "使用開始・使用中止・名義変更のお申し込み")


def test_the_demo_command_ticks_name_change_and_names_an_unknown_utility():
    kanazawa, nayoro = UtilityFactory(slug="kanazawa"), UtilityFactory(slug="nayoro")
    out = StringIO()
    call_command("offer_name_change", "kanazawa", "nayoro", stdout=out)
    assert "名義変更を受け付けます: kanazawa、nayoro" in out.getvalue()
    for utility in (kanazawa, nayoro):
        utility.moving_settings.refresh_from_db()
        assert utility.moving_settings.offers_name_change
    with pytest.raises(CommandError, match="事業者がありません: sapporo"):
        call_command("offer_name_change", "kanazawa", "sapporo")

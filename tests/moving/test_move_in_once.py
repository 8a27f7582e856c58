"""One open move-in per place and day, held by the database (move_in_once_per_place_and_day):
the form's refusal beside the date, and two requests at once on PostgreSQL."""

from __future__ import annotations

import datetime
import threading
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test import Client
from pytest_django.asserts import assertContains

from moving.models import MoveApplication
from tests.factories import UtilityFactory
from tests.moving.test_applications import apply, url
from tests.moving.test_findings import move_in

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime.datetime(2027, 3, 1, 10, 0, tzinfo=JST)
TAKEN = "2027年3月5日からの、このご使用場所の使用開始は、すでに受け付けています。"


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.mark.django_db
def test_the_same_place_and_day_written_another_way_is_refused(client, mailoutbox):
    kanazawa = UtilityFactory()
    apply(client, kanazawa, "move_in", move_in())
    again = client.post(
        url(kanazawa, "move_in"),
        move_in(
            address="金沢市本町２－１５－１",
            building="ハイツ見本203号室",
            name="山田 花子",  # another of the household
            email="hanako@example.jp",
        ),
    )
    assertContains(again, TAKEN)
    assert MoveApplication.objects.count() == 1


@pytest.mark.django_db
def test_once_the_first_is_completed_the_place_takes_another(client, mailoutbox):
    kanazawa = UtilityFactory()
    apply(client, kanazawa, "move_in", move_in())
    MoveApplication.objects.update(status="done")
    apply(client, kanazawa, "move_in", move_in(email="other@example.jp"))
    assert MoveApplication.objects.count() == 2


@pytest.mark.django_db
def test_the_database_refuses_a_second_open_move_in_of_the_place(client, mailoutbox):
    kanazawa = UtilityFactory()
    apply(client, kanazawa, "move_in", move_in())
    first = MoveApplication.objects.get()
    second = MoveApplication(
        **{
            f.name: getattr(first, f.name)
            for f in MoveApplication._meta.concrete_fields
            if f.name not in ("id", "reference")
        },
        reference="20270301-999999",
    )
    second.building = "ハイツ見本 ２０３号室"
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()


@pytest.mark.django_db(transaction=True)
def test_two_move_ins_at_once_make_one_and_a_clear_answer(mailoutbox):
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent writers on one database: CI runs this on PostgreSQL")
    kanazawa = UtilityFactory()
    browsers = []
    for number in range(2):
        browser = Client(REMOTE_ADDR=f"198.51.100.{number + 1}")
        data = move_in(name=f"山田 {'一二'[number]}郎", email=f"r{number}@example.jp")
        assert browser.post(url(kanazawa, "move_in"), data).status_code == HTTPStatus.FOUND
        browsers.append(browser)
    barrier = threading.Barrier(2)

    def press(browser):
        barrier.wait()
        try:
            return browser.post(url(kanazawa, "confirm"))
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(press, browsers))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [HTTPStatus.OK, HTTPStatus.FOUND], statuses
    [refused] = [r for r in responses if r.status_code == HTTPStatus.OK]
    assertContains(refused, TAKEN)
    assert MoveApplication.objects.filter(utility=kanazawa).count() == 1
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_staff_correcting_an_address_onto_another_open_move_in_are_told(client, mailoutbox):
    from django.contrib.auth.models import Permission
    from django.urls import reverse

    from moving import services
    from tests.factories import StaffFactory

    kanazawa = UtilityFactory()
    apply(client, kanazawa, "move_in", move_in())
    apply(client, kanazawa, "move_in", move_in(building="ハイツ見本 204号室"))
    second = MoveApplication.objects.get(building="ハイツ見本 204号室")
    staff = StaffFactory(utility=kanazawa)
    codenames = ("view_moveapplication", "change_moveapplication")
    staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(staff)
    typed = {name: getattr(second, name) for name in services.CORRECTABLE}
    page = reverse("admin:moving_moveapplication_change", args=[second.pk])
    data = {**typed, "building": "ハイツ見本203号室", "status": "received", "staff_note": ""}
    response = client.post(page, data)
    assertContains(response, "このご使用場所と日の使用開始は、ほかのお申し込みで受け付けています。")
    second.refresh_from_db()
    assert second.building == "ハイツ見本 204号室"
    client.post(page, {**data, "building": "ハイツ見本 205号室"})
    second.refresh_from_db()
    assert second.building == "ハイツ見本 205号室"
    assert second.place_key != MoveApplication.objects.exclude(pk=second.pk).get().place_key

"""The queue's actions on many applications: 「処理中」 (each mailed), CSV of the chosen ones."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.admin import helpers
from django.urls import reverse
from pytest_django.asserts import assertContains

from moving.export import CSV_COLUMNS
from moving.models import MoveApplication
from tests.factories import CustomerFactory, UtilityFactory
from tests.moving.test_staff import move_out, staff_client

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime.datetime(2025, 6, 1, 10, 0, tzinfo=JST)
LIST = reverse("admin:moving_moveapplication_changelist")


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def act(client, action: str, *applications, follow: bool = False):
    data = {"action": action, helpers.ACTION_CHECKBOX_NAME: [a.pk for a in applications]}
    return client.post(LIST, data, follow=follow)


def test_marking_many_processing_mails_each_and_leaves_the_others(client, mailoutbox):
    utility = UtilityFactory()
    fresh = [move_out(CustomerFactory(utility=utility)) for _ in range(2)]
    done = move_out(CustomerFactory(utility=utility), status="done")
    contact = move_out(CustomerFactory(utility=utility), status="contact", staff_note="お電話を")
    staff_client(client, utility)
    page = act(client, "mark_processing", *fresh, done, contact, follow=True)
    assertContains(page, "2件を「処理中」にし、お客さまにメールでお知らせしました。")
    assertContains(page, "受付済でない2件はそのままです")
    statuses = dict(MoveApplication.objects.values_list("pk", "status"))
    assert [statuses[a.pk] for a in fresh] == ["processing", "processing"]
    assert statuses[done.pk] == "done" and statuses[contact.pk] == "contact"
    assert len(mailoutbox) == 2 and all("処理中" in m.subject for m in mailoutbox)
    act(client, "mark_processing", *fresh)  # again: nothing more
    assert len(mailoutbox) == 2


def test_another_utilitys_application_is_never_touched(client, mailoutbox):
    ours, theirs = UtilityFactory(), UtilityFactory()
    mine = move_out(CustomerFactory(utility=ours))
    other = move_out(CustomerFactory(utility=theirs))
    staff_client(client, ours)
    act(client, "mark_processing", mine, other)
    other.refresh_from_db()
    assert other.status == "received" and len(mailoutbox) == 1
    body = act(client, "export_selected", mine, other).content.decode("cp932")
    assert mine.reference in body and other.reference not in body


def test_viewing_staff_export_but_cannot_mark(client, mailoutbox):
    utility = UtilityFactory()
    application = move_out(CustomerFactory(utility=utility))
    staff_client(client, utility, "view_moveapplication")
    act(client, "mark_processing", application)
    application.refresh_from_db()
    assert application.status == "received" and not mailoutbox


def test_the_chosen_ones_export_in_the_cis_header_and_encoding(client):
    utility = UtilityFactory(slug="kanazawa-b")
    old = move_out(CustomerFactory(utility=utility))
    MoveApplication.objects.filter(pk=old.pk).update(
        created_at=datetime.datetime(2025, 4, 1, 9, tzinfo=JST)
    )
    new = move_out(CustomerFactory(utility=utility))
    left_out = move_out(CustomerFactory(utility=utility))
    staff_client(client, utility)
    response = act(client, "export_selected", new, old)
    assert response["Content-Type"] == "text/csv; charset=cp932"
    assert "moves_selected_20250601.csv" in response["Content-Disposition"]
    lines = response.content.decode("cp932").split("\r\n")
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert [line.split(",")[1] for line in lines[1:3]] == [old.reference, new.reference]
    assert left_out.reference not in response.content.decode("cp932")

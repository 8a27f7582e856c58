"""送信メール and Web明細 are lists staff read: even staff holding every permission of the two
models cannot add, change or delete a row (a mail is the server's record; a Web明細 choice is
the member's)."""

from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from billing.models import WebSlip
from portal.models import OutboxMail
from tests.factories import CustomerFactory, StaffFactory


@pytest.fixture
def all_powerful_staff(client, utility):
    staff = StaffFactory(utility=utility)
    staff.user_permissions.set(
        Permission.objects.filter(content_type__model__in=["outboxmail", "webslip"])
    )
    client.force_login(staff)
    return client


@pytest.mark.parametrize("model", ["portal_outboxmail", "billing_webslip"])
def test_no_row_can_be_added(all_powerful_staff, model):
    response = all_powerful_staff.get(reverse(f"admin:{model}_add"))
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_a_mail_cannot_be_changed_or_deleted(all_powerful_staff, utility):
    mail = OutboxMail.objects.create(
        utility=utility, recipient="taro@example.jp", subject="件名", body="本文", key="k:1"
    )
    change = reverse("admin:portal_outboxmail_change", args=[mail.pk])
    response = all_powerful_staff.post(change, {"recipient": "evil@example.jp"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    delete = reverse("admin:portal_outboxmail_delete", args=[mail.pk])
    assert all_powerful_staff.post(delete, {"post": "yes"}).status_code == HTTPStatus.FORBIDDEN
    mail.refresh_from_db()
    assert mail.recipient == "taro@example.jp"


def test_a_web_slip_choice_cannot_be_changed_or_deleted(all_powerful_staff, utility):
    slip = WebSlip.objects.create(
        customer=CustomerFactory(utility=utility), paper_stopped=True, chosen_on="2026-12-01"
    )
    change = reverse("admin:billing_webslip_change", args=[slip.pk])
    response = all_powerful_staff.post(change, {"paper_stopped": ""})
    assert response.status_code == HTTPStatus.FORBIDDEN
    delete = reverse("admin:billing_webslip_delete", args=[slip.pk])
    assert all_powerful_staff.post(delete, {"post": "yes"}).status_code == HTTPStatus.FORBIDDEN
    slip.refresh_from_db()
    assert slip.paper_stopped

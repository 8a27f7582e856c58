"""Staff set their utility's mail defaults in 事業者: the import form's 「保留」 default and
the three 「…を受け取る(会員の既定)」 (the outside attack found none of them on the page)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from portal.models import Utility
from tests.factories import StaffFactory, UtilityFactory

pytestmark = pytest.mark.django_db

FIELDS = [
    "hold_bill_mail",
    "mail_bill_ready_default",
    "mail_alerts_default",
    "mail_notices_default",
]


def staff_of(utility):
    staff = StaffFactory(utility=utility)
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="portal", codename__in=["view_utility", "change_utility"]
        )
    )
    return staff


def posted(form, **changes) -> dict:
    """The change form as the browser would post it, with ``changes``."""
    data = {}
    for name in form.fields:
        value = changes.get(name, form[name].value())
        if value is True:
            data[name] = "on"
        elif value not in (False, None):
            data[name] = [str(v) for v in value] if isinstance(value, list) else str(value)
    return data


def test_staff_see_and_change_their_utilitys_mail_defaults(client):
    utility = UtilityFactory(slug="nayoro", customer_number_digits=11)
    other = UtilityFactory(slug="kanazawa", customer_number_digits=14)
    client.force_login(staff_of(utility))
    url = f"/admin/portal/utility/{utility.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    for name in FIELDS:
        assert name in form.fields
    text = page.content.decode()
    assert "検針後のお知らせメールを保留する(取り込みの既定)" in text
    response = client.post(url, posted(form, hold_bill_mail=True, mail_alerts_default=False))
    assert response.status_code == 302, response.context["adminform"].form.errors
    utility.refresh_from_db()
    assert (utility.hold_bill_mail, utility.mail_alerts_default) == (True, False)
    # Another utility's page stays out of reach.
    response = client.get(f"/admin/portal/utility/{other.pk}/change/")
    assert response.status_code in (302, 404)
    assert Utility.objects.get(pk=other.pk).hold_bill_mail is False

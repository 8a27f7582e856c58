"""The 「メール送信の上限(通/分)」 field says one rule: 1 or more, blank for no limit (issue 18)."""

from __future__ import annotations

import pytest

from portal.admin import UtilityAdminForm
from tests.factories import UtilityFactory

pytestmark = pytest.mark.django_db


def form_with_rate(rate: str) -> UtilityAdminForm:
    utility = UtilityFactory()
    form_class = type(
        "RateForm",
        (UtilityAdminForm,),
        {
            "Meta": type(
                "Meta", (), {"model": utility.__class__, "fields": ["mail_rate_per_minute"]}
            )
        },
    )
    return form_class(data={"mail_rate_per_minute": rate}, instance=utility)


def test_the_widget_asks_for_1_or_more():
    html = str(form_with_rate("")["mail_rate_per_minute"])
    assert 'min="1"' in html


@pytest.mark.parametrize("rate", ["0", "-1"])
def test_zero_and_negative_get_the_same_one_message(rate):
    form = form_with_rate(rate)
    assert not form.is_valid()
    assert len(form.errors["mail_rate_per_minute"]) == 1
    assert "1" in form.errors["mail_rate_per_minute"][0]
    assert "0 " not in form.errors["mail_rate_per_minute"][0]


@pytest.mark.parametrize(("rate", "stored"), [("", None), ("1", 1), ("60", 60)])
def test_blank_means_no_limit_and_1_or_more_is_kept(rate, stored):
    form = form_with_rate(rate)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["mail_rate_per_minute"] == stored

"""Every form of both signup styles, recovery and 会員情報 gets hostile values in every field.

Each case brings the browser to the step (a real session, as a resident would have), reads
the form's field names from the page itself, and posts generated values: new fields are
covered without editing this file.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.hashers import make_password
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import Member
from portal import normalize
from tests import helpers as flows
from tests.factories import ContractLinkFactory, CustomerFactory, MemberFactory, UtilityFactory

from .strategies import assert_handled, hostile, hostile_text

pytestmark = pytest.mark.django_db

FIELD = re.compile(r'<(?:input|select|textarea)\b[^>]*\bname="([^"]+)"')
FORM = re.compile(r'<form\b[^>]*method="post"[^>]*>(.*?)</form>', re.S | re.I)


def form_fields(html: str) -> list[str]:
    """Field names of the page's main POST form (the largest), without the CSRF token."""
    forms = FORM.findall(html)
    assert forms, "no POST form on the page"
    for form in forms:
        # The test client skips CSRF checks; a browser would get a 403 without the token.
        assert re.search(r'name="csrfmiddlewaretoken" value="[^"]+"', form), form[:300]
    names = FIELD.findall(max(forms, key=len))
    return sorted({n for n in names if n != "csrfmiddlewaretoken"})


def url(utility, name: str) -> str:
    return reverse(f"accounts:{name}", args=[utility.slug])


# Bringing a browser to each step ---------------------------------------------------------


def kanazawa_member(utility) -> Member:
    member = MemberFactory(
        utility=utility,
        login_id="suidotaro",
        email="taro@example.jp",
        secret_question="food",
        secret_answer_hash=make_password(normalize.secret_answer("バナナ")),
        tax_declaration="no",
    )
    ContractLinkFactory(member=member, customer__number="10000000000001")
    return member


def at_link_details(client, mailoutbox):
    utility = UtilityFactory()
    flows.kanazawa_contract(utility)
    flows.reach_details(client, utility, mailoutbox)
    return utility, "signup_confirm", "signup_details"


def at_code_entry(client, mailoutbox):
    utility = UtilityFactory(code_style=True)
    flows.ask_for_code(client, utility)
    return utility, "signup_code", "signup_code"


def at_code_details(client, mailoutbox):
    utility = UtilityFactory(code_style=True)
    CustomerFactory(utility=utility, number="20000000001", name_kana="スイドウ タロウ")
    flows.reach_code_details(client, utility, mailoutbox)
    return utility, "signup_confirm", "signup_details"


def at_code_email(client, mailoutbox):
    utility = UtilityFactory(code_style=True)
    return utility, "signup", "signup"


def at_recovery_identify(client, mailoutbox):
    utility = UtilityFactory()
    kanazawa_member(utility)
    return utility, "recovery", "recovery"


def at_recovery_question(client, mailoutbox):
    utility = UtilityFactory()
    kanazawa_member(utility)
    client.post(
        url(utility, "recovery"),
        {"email": "taro@example.jp", "customer_number": "10000000000001"},
    )
    return utility, "recovery_question", "recovery_question"


def at_recovery_email(client, mailoutbox):
    utility = UtilityFactory(code_style=True)
    MemberFactory(utility=utility, login_id="", email="taro@example.jp")
    return utility, "recovery", "recovery"


def at_recovery_code(client, mailoutbox):
    utility = UtilityFactory(code_style=True)
    MemberFactory(utility=utility, login_id="", email="taro@example.jp")
    client.post(url(utility, "recovery"), {"email": "taro@example.jp"})
    return utility, "recovery_code", "recovery_code"


def at_recovery_password(client, mailoutbox):
    utility = UtilityFactory()
    kanazawa_member(utility)
    client.post(
        url(utility, "recovery"),
        {"email": "taro@example.jp", "customer_number": "10000000000001"},
    )
    client.post(url(utility, "recovery_question"), {"answer": "バナナ"})
    link = re.search(r"https?://\S+/recovery/link/\S+/", mailoutbox[-1].body).group(0)
    client.get(link.split("testserver", 1)[1])
    return utility, "recovery_password", "recovery_password"


def logged_in_at(page: str):
    def setup(client, mailoutbox):
        utility = UtilityFactory()
        client.force_login(kanazawa_member(utility))
        return utility, page, page

    setup.__name__ = f"logged_in_at_{page}"
    return setup


STEPS = [
    at_link_details,
    at_code_email,
    at_code_entry,
    at_code_details,
    at_recovery_identify,
    at_recovery_question,
    at_recovery_email,
    at_recovery_code,
    at_recovery_password,
    logged_in_at("profile_email"),
    logged_in_at("profile_password"),
    logged_in_at("profile_secret"),
    logged_in_at("profile_tax"),
    logged_in_at("profile_contract_add"),
    logged_in_at("profile_withdraw"),
]


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.__name__)
def test_every_field_of_every_form_takes_hostile_values(client, mailoutbox, step):
    utility, post_to, page = step(client, mailoutbox)
    html = client.get(url(utility, page)).content.decode()
    fields = form_fields(html)
    assert fields, html[:500]
    members_before = sorted(Member.objects.values_list("pk", "status", "email", "password"))

    @hostile
    @given(data=st.fixed_dictionaries({name: hostile_text for name in fields}))
    def post(data):
        assert_handled(client.post(url(utility, post_to), data))

    post()
    # Garbage never creates, activates, renames or re-keys anyone.
    assert sorted(Member.objects.values_list("pk", "status", "email", "password")) == (
        members_before
    )

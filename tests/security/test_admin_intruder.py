"""Staff of one utility attacking another through the admin, and the admin's own error paths.

The walk tests go through every registered ModelAdmin and every inline, so a model or an
inline added later is covered without editing this file.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

from accounts.models import ContractLink, ContractRequest, Member
from billing.models import Customer, MeterReading
from portal.admin import SECRET_FIELDS
from tests.factories import (
    ContractLinkFactory,
    CustomerFactory,
    MemberFactory,
    MeterReadingFactory,
    StaffFactory,
    UtilityFactory,
)

pytestmark = pytest.mark.django_db

MARKER = "名寄マーカー"


@pytest.fixture
def cities():
    kanazawa = UtilityFactory(slug="kanazawa")
    nayoro = UtilityFactory(code_style=True, slug="nayoro", portal_name=f"{MARKER}ポータル")
    return kanazawa, nayoro


@pytest.fixture
def theirs(cities):
    """Rows of the other utility, each carrying MARKER where a page would show it."""
    _, nayoro = cities
    customer = CustomerFactory(utility=nayoro, name=MARKER, number="20000000002")
    member = MemberFactory(utility=nayoro, name=MARKER, login_id="", email="marker@nayoro.jp")
    ContractLinkFactory(member=member, customer=customer)
    MeterReadingFactory(customer=customer)
    ContractRequest.objects.create(member=member, customer=customer, customer_number="20000000002")
    return {"customer": customer, "member": member, "utility": nayoro}


@pytest.fixture
def ours(cities):
    kanazawa, _ = cities
    customer = CustomerFactory(utility=kanazawa, number="10000000000001")
    member = MemberFactory(utility=kanazawa, login_id="suidotaro")
    ContractLinkFactory(member=member, customer=customer)
    MeterReadingFactory(customer=customer)
    ContractRequest.objects.create(
        member=member, customer=customer, customer_number="10000000000001"
    )
    return {"customer": customer, "member": member, "utility": kanazawa}


@pytest.fixture
def staff(cities):
    kanazawa, _ = cities
    member = StaffFactory(utility=kanazawa, login_id="kanazawa-staff")
    member.user_permissions.set(Permission.objects.all())
    return member


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def _inline_formset_data(member: Member, customer_pk: int) -> dict:
    """The member page's POST with one new contract-link row, as the browser sends it."""
    data = {
        "status": member.status,
        "utility": member.utility_id,
        "login_id": member.login_id,
        "email": member.email,
        "name": member.name,
        "phone": member.phone,
        "contract_links-TOTAL_FORMS": "1",
        "contract_links-INITIAL_FORMS": "0",
        "contract_links-0-customer": str(customer_pk),
        "contract_links-0-member": str(member.pk),
        "contract_requests-TOTAL_FORMS": "0",
        "contract_requests-INITIAL_FORMS": "0",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
        "_save": "保存",
    }
    return data


def test_the_member_pages_contract_inline_refuses_another_utilitys_contract(
    staff_client, ours, theirs
):
    member = MemberFactory(utility=ours["utility"], login_id="taro0401")
    url = reverse("admin:accounts_member_change", args=[member.pk])
    response = staff_client.post(url, _inline_formset_data(member, theirs["customer"].pk))
    assert response.status_code == HTTPStatus.OK  # the form again, with the error
    assert not ContractLink.objects.filter(member=member).exists()
    # And the resident's 会員情報 never shows the other utility's contract.
    staff_client.force_login(member)
    profile = staff_client.get(reverse("accounts:profile", args=[ours["utility"].slug]))
    assert theirs["customer"].number not in profile.content.decode()


def test_the_member_pages_contract_inline_links_one_of_our_contracts(staff_client, ours):
    member = MemberFactory(utility=ours["utility"], login_id="taro0401")
    url = reverse("admin:accounts_member_change", args=[member.pk])
    response = staff_client.post(url, _inline_formset_data(member, ours["customer"].pk))
    assert response.status_code == HTTPStatus.FOUND
    assert ContractLink.objects.filter(member=member, customer=ours["customer"]).exists()


def test_the_model_refuses_a_link_across_utilities(ours, theirs):
    link = ContractLink(member=ours["member"], customer=theirs["customer"])
    with pytest.raises(ValidationError):
        link.full_clean()
    with pytest.raises(ValidationError):
        link.save()
    assert not ContractLink.objects.filter(member=ours["member"], customer=theirs["customer"])


def test_the_resident_profile_lists_only_this_utilitys_contracts(client, ours, theirs):
    # A link stored before the model refused it (the migration reports these).
    ContractLink.objects.bulk_create(
        [ContractLink(member=ours["member"], customer=theirs["customer"])]
    )
    client.force_login(ours["member"])
    page = client.get(reverse("accounts:profile", args=[ours["utility"].slug])).content.decode()
    assert ours["customer"].number in page
    assert theirs["customer"].number not in page


# Walking every admin ----------------------------------------------------------------------


def _registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def _our_row(model, ours, staff):
    rows = {
        Member: ours["member"],
        Customer: ours["customer"],
        MeterReading: ours["customer"].readings.first(),
        ContractRequest: ContractRequest.objects.filter(member=ours["member"]).first(),
    }
    if model in rows:
        return rows[model]
    if model._meta.label == "portal.Utility":
        return ours["utility"]
    return model._default_manager.first()


def _pages(model_admin, model, row):
    opts = model._meta
    names = [("changelist", ()), ("add", ())]
    if row is not None:
        names.append(("change", (row.pk,)))
    for name, args in names:
        try:
            yield reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=args)
        except NoReverseMatch:
            continue


def test_no_admin_page_shows_another_utilitys_rows(staff_client, staff, ours, theirs):
    for model, model_admin in _registered():
        row = _our_row(model, ours, staff)
        for url in _pages(model_admin, model, row):
            response = staff_client.get(url)
            assert response.status_code in (200, 302, 403), (url, response.status_code)
            assert MARKER not in response.content.decode(), url


def _their_pks(theirs) -> dict:
    nayoro = theirs["utility"]
    return {
        "portal.Utility": {nayoro.pk},
        "billing.Customer": set(
            Customer.objects.filter(utility=nayoro).values_list("pk", flat=True)
        ),
        "accounts.Member": set(Member.objects.filter(utility=nayoro).values_list("pk", flat=True)),
    }


def _choice_fields(form_class):
    for name, field in form_class.base_fields.items():
        if hasattr(field, "queryset"):
            yield name, field


def test_every_choice_list_of_every_admin_and_inline_is_scoped(staff, ours, theirs):
    request = RequestFactory().get("/admin/")
    request.user = staff
    forbidden = _their_pks(theirs)
    for model, model_admin in _registered():
        row = _our_row(model, ours, staff)
        forms = [model_admin.get_form(request, row)]
        forms += [
            inline.get_formset(request, row).form
            for inline in model_admin.get_inline_instances(request, row)
        ]
        for form_class in forms:
            for name, field in _choice_fields(form_class):
                label = field.queryset.model._meta.label
                leaked = field.queryset.filter(pk__in=forbidden.get(label, set()))
                assert not leaked.exists(), (model._meta.label, form_class, name)


def test_every_autocomplete_of_every_admin_and_inline_is_scoped(staff_client, staff, ours, theirs):
    request = RequestFactory().get("/admin/")
    request.user = staff
    checked = 0
    for model, model_admin in _registered():
        row = _our_row(model, ours, staff)
        owners = [model_admin, *model_admin.get_inline_instances(request, row)]
        for owner in owners:
            for field_name in owner.get_autocomplete_fields(request):
                opts = owner.model._meta
                for term in ["", MARKER, theirs["customer"].number]:
                    response = staff_client.get(
                        reverse("admin:autocomplete"),
                        {
                            "app_label": opts.app_label,
                            "model_name": opts.model_name,
                            "field_name": field_name,
                            "term": term,
                        },
                    )
                    assert response.status_code == HTTPStatus.OK, (opts.label, field_name)
                    texts = [r["text"] for r in json.loads(response.content)["results"]]
                    assert not any(MARKER in t or theirs["customer"].number in t for t in texts)
                checked += 1
    assert checked >= 3  # the member page's contracts, requests' and readings' contract


def test_no_admin_uses_raw_id_fields(staff):
    """A raw-id box validates against an unscoped list and labels any id; autocomplete is scoped."""
    request = RequestFactory().get("/admin/")
    request.user = staff
    for model, model_admin in _registered():
        owners = [model_admin, *model_admin.get_inline_instances(request, None)]
        assert all(not owner.raw_id_fields for owner in owners), model._meta.label


# Secret fields through the query string ---------------------------------------------------


def _secret_lookups(model, depth: int = 2, prefix: str = ""):
    """Every path from ``model`` to a secret field, following relations ``depth`` deep."""
    for field in model._meta.get_fields():
        name = prefix + (field.name if not field.auto_created or field.concrete else field.name)
        if field.name in SECRET_FIELDS:
            yield f"{name}__startswith"
        elif field.is_relation and depth and field.related_model is not None:
            yield from _secret_lookups(field.related_model, depth - 1, f"{name}__")


def test_no_admin_filters_on_a_secret_field_however_it_is_reached(staff_client, staff, ours):
    tried = 0
    for model, _model_admin in _registered():
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        for lookup in set(_secret_lookups(model)):
            response = staff_client.get(url, {lookup: "argon2"})
            assert response.status_code == HTTPStatus.BAD_REQUEST, (url, lookup)
            tried += 1
    assert tried >= 4


def test_the_member_list_is_no_hash_oracle(staff_client, ours):
    url = reverse("admin:accounts_member_changelist")
    for lookup in ["password__startswith", "secret_answer_hash__startswith", "password__regex"]:
        assert staff_client.get(url, {lookup: "m"}).status_code == HTTPStatus.BAD_REQUEST


# The admin's own error paths -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("accounts_member_changelist", {"status__exact": "\x00"}),
        ("accounts_member_changelist", {"q": "a\x00b"}),
        ("billing_meterreading_changelist", {"period_end__year": "9999999999"}),
        ("billing_meterreading_changelist", {"usage_m3__gt": "9" * 30}),
        ("billing_customer_changelist", {"meter_diameter_mm__exact": "x"}),
    ],
)
def test_a_wacky_filter_value_goes_back_to_the_plain_list(staff_client, ours, name, query):
    response = staff_client.get(reverse(f"admin:{name}"), query)
    assert response.status_code in (HTTPStatus.OK, HTTPStatus.FOUND)
    if response.status_code == HTTPStatus.FOUND:
        assert response["Location"].endswith("?e=1")


@pytest.mark.parametrize(
    ("model_name", "field_name"),
    [("contractlink", "customer"), ("contractrequest", "customer"), ("meterreading", "customer")],
)
def test_a_nul_in_an_autocomplete_term_is_ignored(staff_client, ours, model_name, field_name):
    """PostgreSQL refuses NUL in text: the attack's term=%00 answered 500."""
    CustomerFactory(utility=ours["utility"], number="10000000000099")
    number = ours["customer"].number
    app_label = "billing" if model_name == "meterreading" else "accounts"
    url = reverse("admin:autocomplete")
    query = {"app_label": app_label, "model_name": model_name, "field_name": field_name}
    for term in ["\x00", "a\x00b"]:
        response = staff_client.get(url, {**query, "term": term})
        assert response.status_code == HTTPStatus.OK, term
    response = staff_client.get(url, {**query, "term": f"{number[:7]}\x00{number[7:]}"})
    assert response.status_code == HTTPStatus.OK
    results = json.loads(response.content)["results"]
    assert [r["id"] for r in results] == [str(ours["customer"].pk)]


def test_no_admin_search_fails_on_a_nul(rf, ours, theirs):
    """Every registered admin, Django's own included, searches as if the NUL were not typed."""
    request = rf.get("/admin/")
    request.user = StaffFactory(is_superuser=True, utility=None)
    for model, model_admin in _registered():
        queryset = model_admin.get_queryset(request)
        found, _distinct = model_admin.get_search_results(request, queryset, "a\x00b")
        expected, _distinct = model_admin.get_search_results(request, queryset, "ab")
        assert list(found) == list(expected), model._meta.label


@pytest.mark.parametrize("selected", [["abc"], ["1", "x"], ["9" * 30], ["-" + "9" * 30]])
def test_a_forged_selection_is_refused_with_a_message(staff_client, ours, selected):
    url = reverse("admin:accounts_member_changelist")
    response = staff_client.post(
        url, {"action": "approve", "_selected_action": selected, "index": "0"}, follow=True
    )
    assert response.status_code == HTTPStatus.OK
    assert "選択された行が正しくありません" in response.content.decode()


# The admin in Japanese (issue 15, staff side) ---------------------------------------------

THEAD = re.compile(r"<thead\b.*?</thead>", re.S)
HEADER = re.compile(r"<th\b[^>]*>(.*?)</th>", re.S)
TAG = re.compile(r"<[^>]+>")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def test_no_admin_column_header_is_in_english(staff_client, staff, ours, theirs):
    for model, model_admin in _registered():
        row = _our_row(model, ours, staff)
        for url in _pages(model_admin, model, row):
            html = staff_client.get(url).content.decode()
            headers = [h for head in THEAD.findall(html) for h in HEADER.findall(head)]
            for header in headers:
                text = TAG.sub("", header).strip()
                assert not LATIN_WORD.search(text), (url, text)


def test_a_members_history_reads_as_japanese_sentences_in_japan_time(staff_client, ours):
    import datetime as dt

    from accounts.models import MemberEvent

    MemberEvent.objects.create(
        member=ours["member"],
        action="approved",
        detail={"customer_number": "10000000000001"},
        created_at=dt.datetime(2026, 12, 1, 15, 30, tzinfo=dt.UTC),
    )
    page = staff_client.get(reverse("admin:accounts_member_change", args=[ours["member"].pk]))
    html = page.content.decode()
    assert "承認(ポータル登録番号: 10000000000001)" in html
    assert "2026年12月2日 00:30" in html  # 15:30 UTC is half past midnight in Japan
    assert '{"customer_number"' not in html

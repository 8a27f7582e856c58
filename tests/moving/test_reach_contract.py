"""A move-in (or a 名義変更) reaches the member's contracts once the CIS's number is in the
portal: staff type it to complete the application; the customer import links it later."""

from __future__ import annotations

import datetime
import io
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from pytest_django.asserts import assertContains

from accounts.models import ContractLink, ContractRequest, MemberEvent
from billing.imports import import_customers
from moving import services
from moving.models import MoveApplication, MovingSettings
from tests.factories import (
    ContractLinkFactory,
    CustomerFactory,
    MemberFactory,
    StaffFactory,
    UtilityFactory,
)

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime.datetime(2027, 3, 1, 10, 0, tzinfo=JST)
NEW_NUMBER = "10000000000777"
HEADER = (
    "utility,customer_number,name,name_kana,address,building,phone,meter_diameter_mm,meter_number"
)


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def kanazawa():
    return UtilityFactory(slug="kanazawa-t")


@pytest.fixture
def member(kanazawa):
    return MemberFactory(utility=kanazawa, email="newcomer@example.jp")


def move_in(utility, member=None, **overrides) -> MoveApplication:
    fields = {
        "utility": utility,
        "kind": "move_in",
        "reference": f"20270301-{MoveApplication.objects.count():06d}",
        "member": member,
        "move_date": datetime.date(2027, 3, 20),
        "name": "金沢 新",
        "name_kana": "カナザワ アラタ",
        "phone": "09011112222",
        "email": member.email if member else "guest@example.jp",
        "address": "金沢市泉野町1丁目1-1",
        "payment": "slip",
        "wants_membership": True,
    }
    return MoveApplication.objects.create(**{**fields, **overrides})


def staff_client(client, utility):
    staff = StaffFactory(utility=utility)
    codenames = ("view_moveapplication", "change_moveapplication")
    staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(staff)
    return staff


def complete(client, application, number: str = "", **extra):
    page = reverse("admin:moving_moveapplication_change", args=[application.pk])
    typed = {name: getattr(application, name) for name in services.CORRECTABLE}
    data = {**typed, "status": "done", "staff_note": "", "new_customer_number": number, **extra}
    return client.post(page, data)


def import_contract(utility, number: str = NEW_NUMBER, *, dry_run: bool = False):
    row = f"{utility.slug},{number},金沢 新,カナザワ アラタ,金沢市泉野町1丁目1-1,,0762001111,20,1"
    return import_customers(io.BytesIO(f"{HEADER}\n{row}\n".encode()), dry_run=dry_run)


def full_width(number: str) -> str:
    return number.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})


def added(mailoutbox) -> list:
    return [m for m in mailoutbox if "ご契約がポータルに追加されました" in m.subject]


def test_completing_a_membership_move_in_needs_the_new_number(client, kanazawa, member):
    application = move_in(kanazawa, member)
    staff_client(client, kanazawa)
    response = complete(client, application)
    assertContains(response, "完了にする前に、新しい契約の番号を入力してください。")
    response = complete(client, application, "123")
    assertContains(response, "半角数字14桁で入力してください。")
    application.refresh_from_db()
    assert application.status == "received" and not application.new_customer_number


def test_the_import_that_brings_the_number_links_the_member_and_mails_them(
    client, kanazawa, member, mailoutbox
):
    application = move_in(kanazawa, member)
    staff = staff_client(client, kanazawa)
    assert complete(client, application, full_width(NEW_NUMBER)).status_code == 302
    application.refresh_from_db()
    assert application.status == "done" and application.new_customer_number == NEW_NUMBER
    assert application.new_number_by == staff and application.reached_at is None
    assert not member.contract_links.exists()  # the CIS has not sent it yet
    assert import_contract(kanazawa).ok
    link = member.contract_links.get()
    assert link.customer.number == NEW_NUMBER and link.ended_on is None
    assert link.approved_by == staff
    assert MemberEvent.objects.filter(member=member, action="contract_added").exists()
    [mail] = added(mailoutbox)
    assert mail.to == ["newcomer@example.jp"]
    assert NEW_NUMBER in mail.body and application.reference in mail.body
    import_contract(kanazawa, "10000000000778")  # later imports: nothing more
    assert member.contract_links.count() == 1 and len(added(mailoutbox)) == 1
    application.refresh_from_db()
    assert application.reached_at is not None


def test_a_number_already_in_the_portal_is_linked_at_completion(
    client, kanazawa, member, mailoutbox
):
    CustomerFactory(utility=kanazawa, number=NEW_NUMBER)
    application = move_in(kanazawa, member)
    staff_client(client, kanazawa)
    complete(client, application, NEW_NUMBER)
    assert member.contract_links.get().customer.number == NEW_NUMBER
    assert len(added(mailoutbox)) == 1


def test_the_number_may_be_typed_after_completion(client, kanazawa, mailoutbox):
    application = move_in(kanazawa, wants_membership=False)  # no number needed to complete
    staff_client(client, kanazawa)
    complete(client, application)
    MoveApplication.objects.filter(pk=application.pk).update(wants_membership=True)
    application.refresh_from_db()
    complete(client, application, NEW_NUMBER)
    application.refresh_from_db()
    assert application.new_customer_number == NEW_NUMBER and application.status == "done"
    import_contract(kanazawa)
    application.refresh_from_db()
    assert application.reached_at is not None


def test_a_guest_is_mailed_how_to_sign_up_with_the_new_number(
    client, kanazawa, mailoutbox, settings
):
    settings.PORTAL_BASE_URL = "https://portal.example.jp"
    application = move_in(kanazawa)
    staff_client(client, kanazawa)
    complete(client, application, NEW_NUMBER)
    import_contract(kanazawa)
    [guide] = [m for m in mailoutbox if "会員登録のご案内" in m.subject]
    assert guide.to == ["guest@example.jp"]
    assert NEW_NUMBER in guide.body
    assert f"https://portal.example.jp/{kanazawa.slug}/signup/" in guide.body
    assert not ContractLink.objects.exists()


def test_a_dry_run_or_another_utilitys_number_links_nothing(client, kanazawa, member, mailoutbox):
    application = move_in(kanazawa, member)
    staff_client(client, kanazawa)
    complete(client, application, NEW_NUMBER)
    other = UtilityFactory(slug="other-t")
    assert import_contract(kanazawa, dry_run=True).ok
    assert import_contract(other).ok  # the same number, another utility's contract
    assert not member.contract_links.exists() and not added(mailoutbox)
    import_contract(kanazawa)
    assert member.contract_links.get().customer.utility == kanazawa


def test_past_the_family_cap_it_waits_for_staff(client, member, mailoutbox):
    utility = member.utility
    utility.max_members_per_contract = 1
    utility.save()
    CustomerFactory(utility=utility, number=NEW_NUMBER)
    ContractLinkFactory(
        member=MemberFactory(utility=utility), customer=utility.customers.get(number=NEW_NUMBER)
    )
    application = move_in(utility, member)
    staff_client(client, utility)
    complete(client, application, NEW_NUMBER, number_confirmed="on")  # another's member on it
    assert not member.contract_links.exists() and not added(mailoutbox)
    request = ContractRequest.objects.get(member=member)
    assert request.status == "pending" and request.customer.number == NEW_NUMBER


def test_a_member_naming_themselves_the_new_holder_keeps_the_contract(
    client, kanazawa, member, mailoutbox
):
    MovingSettings.objects.filter(utility=kanazawa).update(offers_name_change=True)
    contract = CustomerFactory(utility=kanazawa, number=NEW_NUMBER)
    family = MemberFactory(utility=kanazawa)
    ContractLinkFactory(member=member, customer=contract)
    ContractLinkFactory(member=family, customer=contract)
    application = move_in(
        kanazawa,
        member,
        kind="name_change",
        customer=contract,
        customer_number=NEW_NUMBER,
        new_name="金沢 新",
        new_name_kana="カナザワ アラタ",
        new_phone="09011112222",
        new_email="NEWCOMER@example.jp",
        relationship="inheritance",
    )
    staff_client(client, kanazawa)
    complete(client, application, NEW_NUMBER, number_confirmed="on")  # the family's number
    link = member.contract_links.get()
    assert link.ended_on is None and link.started_on is None  # the holder now, as before
    assert family.contract_links.get().ended_on == datetime.date(2027, 3, 20)
    assert len(added(mailoutbox)) == 1


def test_one_application_failing_never_fails_the_import(
    client, kanazawa, member, mailoutbox, monkeypatch, caplog
):
    first = move_in(kanazawa, member)
    second = move_in(kanazawa, MemberFactory(utility=kanazawa), address="金沢市別町1-1")
    staff_client(client, kanazawa)
    complete(client, first, NEW_NUMBER)
    complete(client, second, "10000000000778")
    real = services.reach_contract

    def breaks_on_first(pk, request=None):
        if pk == first.pk:
            raise RuntimeError("mail template broken")
        return real(pk, request=request)

    monkeypatch.setattr(services, "reach_contract", breaks_on_first)
    header_and_rows = import_contract(kanazawa), import_contract(kanazawa, "10000000000778")
    assert all(result.ok for result in header_and_rows)
    second.refresh_from_db()
    assert second.reached_at is not None
    assert "could not reach contract" in caplog.text


def test_the_import_announces_only_new_contracts_and_only_when_kept(kanazawa):
    from billing.signals import customers_imported

    heard = []

    def listener(sender, utility, numbers, **kwargs):
        heard.append((utility, sorted(numbers)))

    customers_imported.connect(listener)
    try:
        CustomerFactory(utility=kanazawa, number="10000000000100")
        rows = [
            f"{kanazawa.slug},{number},金沢 新,カナザワ アラタ,金沢市泉野町1丁目1-1,,0762001111,20,1"
            for number in ("10000000000100", "10000000000101")
        ]
        text = "\n".join([HEADER, *rows]) + "\n"
        assert import_customers(io.BytesIO(text.encode()), dry_run=True).ok
        assert import_customers(io.BytesIO((text + "bad,row\n").encode())).ok is False
        assert heard == []
        assert import_customers(io.BytesIO(text.encode())).ok
        assert heard == [(kanazawa, ["10000000000101"])]
    finally:
        customers_imported.disconnect(listener)


def test_a_completed_application_saves_again_without_its_number_field(
    client, kanazawa, member, mailoutbox
):
    CustomerFactory(utility=kanazawa, number=NEW_NUMBER)
    application = move_in(kanazawa, member)
    staff_client(client, kanazawa)
    complete(client, application, NEW_NUMBER)
    application.refresh_from_db()
    assert application.reached_at is not None
    page = reverse("admin:moving_moveapplication_change", args=[application.pk])
    assertContains(client.get(page), NEW_NUMBER)  # shown, no longer editable
    typed = {name: getattr(application, name) for name in services.CORRECTABLE}
    response = client.post(page, {**typed, "building": "2階", "status": "done", "staff_note": ""})
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.building == "2階" and application.new_customer_number == NEW_NUMBER

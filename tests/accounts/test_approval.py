"""Staff review pending members in the admin: the match at a glance, 承認 and 否認."""

from __future__ import annotations

import datetime
import smtplib
import threading
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection, connections
from django.urls import reverse
from pytest_django.asserts import (
    assertContains,
    assertNotContains,
    assertRedirects,
    assertTemplateUsed,
)

from accounts.history import describe
from accounts.models import ContractLink, Member, MemberEvent
from accounts.services import review as services
from tests.conftest import PASSWORD
from tests.factories import CustomerFactory, MemberFactory, StaffFactory, UtilityFactory

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
NOON = datetime.datetime(2025, 4, 2, 12, 0, tzinfo=JST)
CHANGELIST = "admin:accounts_member_changelist"


def make_staff(utility, **overrides):
    staff = StaffFactory(utility=utility, **overrides)
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="accounts", codename__in=["view_member", "change_member"]
        )
    )
    return staff


def applicant(utility, contract=None, number=None, **overrides):
    """A resident who pressed 本会員申請 with ``contract``'s details (or an unknown number)."""
    values = {"status": Member.Status.PENDING, "phone": "0761234567", "address": "金沢市広坂1-1"}
    member = MemberFactory(utility=utility, **{**values, **overrides})
    member.signup_customer_number = number or (contract.number if contract else "19999999999999")
    member.signup_match = services.match_contract(
        utility, member.signup_customer_number, member.name, member.phone, member.address
    )
    member.save()
    return member


@pytest.fixture
def contract(utility):
    return CustomerFactory(
        utility=utility, name="水道 太郎", phone="0761234567", address="金沢市広坂1-1"
    )


@pytest.fixture
def staff(utility):
    return make_staff(utility)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def run_action(client, action: str, *members, **extra):
    data = {"action": action, "_selected_action": [m.pk for m in members], **extra}
    return client.post(reverse(CHANGELIST), data, follow=True)


def approve_from_list(client, *members, tick=None):
    """「承認」 on the list, then 「承認する」 on its confirmation page with the boxes the page
    ticked itself (members whose evidence all matches), or with ``tick`` ticked instead."""
    page = run_action(client, "approve", *members)
    assert page.status_code == HTTPStatus.OK
    if tick is None:
        tick = [row.member for row in page.context.get("rows", []) if row.ticked]
    return run_action(client, "approve", *members, apply="1", approve_member=[m.pk for m in tick])


def test_pending_members_come_first_with_the_match_at_a_glance(staff_client, utility, contract):
    MemberFactory(utility=utility, login_id="active01")
    applicant(utility, contract, login_id="pending01", phone="0769999999")
    response = staff_client.get(reverse(CHANGELIST))
    page = response.content.decode()
    assert page.index("pending01") < page.index("active01")
    items = ["番号○", "氏名○", "電話×", "住所○"]  # each unbroken, the line breaks between them
    assertContains(response, " ".join(f'<span class="match-item">{i}</span>' for i in items))


def test_the_change_page_sets_typed_and_contract_values_side_by_side(
    staff_client, utility, contract
):
    member = applicant(utility, contract, phone="0769999999")
    response = staff_client.get(reverse("admin:accounts_member_change", args=[member.pk]))
    assertContains(response, "<td>0769999999</td><td>0761234567</td><td>×</td>", html=False)
    assertContains(response, f"<td>{contract.number}</td><td>{contract.number}</td><td>○</td>")


def test_approval_links_the_contract_activates_and_sends_the_guide_once(
    staff_client, staff, utility, contract, mailoutbox, time_machine
):
    time_machine.move_to(NOON, tick=False)
    member = applicant(utility, contract)
    response = approve_from_list(staff_client, member)
    assertContains(response, f"{member.login_id}: 承認しました。")
    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE
    assert (member.reviewed_by, member.reviewed_at) == (staff, NOON)
    link = ContractLink.objects.get(member=member)
    assert (link.customer, link.approved_by, link.approved_at) == (contract, staff, NOON)
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [member.email]
    assert mail.subject == f"【{utility.portal_name}】ご使用量等の確認についてのご案内"
    assert f"http://testserver{reverse('accounts:login', args=[utility.slug])}" in mail.body
    assert utility.contact_block in mail.body

    again = run_action(staff_client, "approve", member)
    assertContains(again, "確認中の会員が選ばれていません。")
    again = approve_from_list(staff_client, member, tick=[member])
    assertContains(again, "確認中ではないため承認しませんでした。")
    assert len(mailoutbox) == 1


def test_an_approved_resident_logs_in(client, staff, utility, contract, mailoutbox):
    member = applicant(utility, contract)
    services.approve_member(member, staff, "http://testserver")
    response = client.post(
        reverse("accounts:login", args=[utility.slug]),
        {"identifier": member.login_id, "password": PASSWORD},
    )
    assertRedirects(response, reverse("billing:dashboard", args=[utility.slug]))


def test_an_unknown_number_cannot_be_approved_until_staff_pick_the_contract(
    staff_client, utility, contract, mailoutbox
):
    member = applicant(utility, number="19999999999999")
    page = run_action(staff_client, "approve", member)
    assertContains(page, "契約が見つかりません。")
    assertNotContains(page, 'name="approve_member"')  # nothing to tick
    response = approve_from_list(staff_client, member, tick=[member])  # a forged tick
    assertContains(response, "契約が見つからないため承認できません。")
    member.refresh_from_db()
    assert member.status == Member.Status.PENDING
    assert mailoutbox == []

    change_url = reverse("admin:accounts_member_change", args=[member.pk])
    page = staff_client.get(change_url)
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields if name != "groups"}
    data.update(
        {
            "contract_number": contract.number,
            "contract_links-TOTAL_FORMS": "0",
            "contract_links-INITIAL_FORMS": "0",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        }
    )
    saved = staff_client.post(change_url, data)
    assert saved.status_code == HTTPStatus.FOUND, saved.context["adminform"].form.errors
    member.refresh_from_db()
    assert member.signup_match["customer_id"] == contract.pk
    assert member.signup_match["number"] is False  # typed 1999…, chosen by staff

    approve_from_list(staff_client, member)  # number ×: the page does not tick it
    member.refresh_from_db()
    assert member.status == Member.Status.PENDING
    approve_from_list(staff_client, member, tick=[member])  # staff tick it themselves
    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE
    assert list(member.contracts.all()) == [contract]
    assert len(mailoutbox) == 1


def test_staff_cannot_pick_a_contract_of_another_utility(staff, utility):
    member = applicant(utility)
    elsewhere = CustomerFactory(utility=UtilityFactory())
    with pytest.raises(services.ContractNotFound):
        services.choose_contract(member, elsewhere.number, staff)


def test_rejection_asks_for_a_reason_then_mails_it_with_the_contact_block(
    staff_client, staff, utility, contract, mailoutbox
):
    member = applicant(utility, contract)
    page = run_action(staff_client, "reject", member)
    assertContains(page, "否認の理由")
    assertContains(page, member.email)
    empty = run_action(staff_client, "reject", member, apply="1", reason="")
    assertContains(empty, "否認の理由を入力してください。")
    assert mailoutbox == []

    reason = "ポータル登録番号とお名前が契約と一致しませんでした。"
    done = run_action(staff_client, "reject", member, apply="1", reason=reason)
    assertContains(done, f"{member.login_id}: 否認しました。")
    member.refresh_from_db()
    assert member.status == Member.Status.REJECTED
    assert (member.rejection_reason, member.reviewed_by) == (reason, staff)
    assert not member.contracts.exists()
    mail = mailoutbox[0]
    assert mail.to == [member.email]
    assert reason in mail.body and utility.contact_block in mail.body
    assert MemberEvent.objects.filter(member=member, action="rejected", actor=staff).exists()


def test_staff_see_and_act_on_their_own_utility_only(client, utility, contract, mailoutbox):
    mine = applicant(utility, contract, login_id="minemine1")
    other_utility = UtilityFactory()
    theirs = applicant(other_utility, login_id="theirs001")
    client.force_login(make_staff(utility))
    listing = client.get(reverse(CHANGELIST))
    assertContains(listing, "minemine1")
    assertNotContains(listing, "theirs001")
    run_action(client, "approve", theirs)
    theirs.refresh_from_db()
    assert theirs.status == Member.Status.PENDING
    with pytest.raises(services.NotAllowed):
        services.approve_member(theirs, make_staff(utility), "http://testserver")
    assert mine.status == Member.Status.PENDING and mailoutbox == []


def test_a_guide_mail_refused_for_good_keeps_the_approval_and_shows_in_the_history(
    staff_client, utility, contract, monkeypatch
):
    def refuse(self, messages):
        raise smtplib.SMTPRecipientsRefused({messages[0].to[0]: (550, b"5.1.1 No such user")})

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    member = applicant(utility, contract)
    response = approve_from_list(staff_client, member)
    assertContains(response, f"{member.login_id}: 承認しました。")
    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE
    # Staff read it in the member's history, with the server's reply.
    event = MemberEvent.objects.get(member=member, action="mail_failed")
    assert describe(event) == (
        "メール送信失敗(メール: ご使用量等の確認についてのご案内、"
        "メールサーバーの応答: 550 5.1.1 No such user)"
    )


@pytest.mark.django_db(transaction=True)
def test_two_staff_approving_at_once_send_one_guide_mail(mailoutbox):
    if connection.vendor != "postgresql":
        pytest.skip("needs SELECT ... FOR UPDATE between connections: CI runs it on PostgreSQL")
    utility = UtilityFactory()
    contract = CustomerFactory(utility=utility, name="水道 太郎", phone="0761234567")
    member = applicant(utility, contract)
    staff = [make_staff(utility), make_staff(utility)]
    barrier = threading.Barrier(2)
    outcomes = []

    def approve(reviewer):
        barrier.wait()
        try:
            services.approve_member(member, reviewer, "http://testserver")
            outcomes.append("approved")
        except services.AlreadyReviewed:
            outcomes.append("already")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(reviewer,)) for reviewer in staff]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already", "approved"]
    assert len(mailoutbox) == 1
    assert ContractLink.objects.filter(member=member).count() == 1


# On the member's own page ---------------------------------------------------------------


def test_staff_approve_from_the_members_page_beside_the_evidence(
    client, utility, contract, mailoutbox
):
    member = applicant(utility, contract)
    client.force_login(make_staff(utility))
    page = client.get(reverse("admin:accounts_member_change", args=[member.pk]))
    html = page.content.decode()
    assert 'form="member-approve-form"' in html and 'id="member-approve-form"' in html
    assert html.index("契約との照合") < html.index('form="member-approve-form"')
    response = client.post(reverse("admin:accounts_member_approve", args=[member.pk]))
    assertRedirects(response, reverse("admin:accounts_member_change", args=[member.pk]))
    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE
    assert len(mailoutbox) == 1


def test_staff_send_back_from_the_members_page_with_a_reason(client, utility, contract, mailoutbox):
    member = applicant(utility, contract)
    client.force_login(make_staff(utility))
    url = reverse("admin:accounts_member_reject", args=[member.pk])
    assertContains(client.get(url), "否認の理由")
    assertContains(client.post(url, {"reason": ""}), "否認の理由を入力してください。")
    response = client.post(url, {"reason": "お電話番号が契約と異なります。"})
    assertRedirects(response, reverse("admin:accounts_member_change", args=[member.pk]))
    member.refresh_from_db()
    assert member.status == Member.Status.REJECTED
    assert "お電話番号が契約と異なります。" in mailoutbox[-1].body


def test_the_members_page_buttons_do_not_reach_another_utility(client, utility, contract):
    theirs = applicant(UtilityFactory())
    client.force_login(make_staff(utility))
    for name in ["admin:accounts_member_approve", "admin:accounts_member_reject"]:
        response = client.post(reverse(name, args=[theirs.pk]), {"reason": "x"})
        assert response.status_code == HTTPStatus.NOT_FOUND
    theirs.refresh_from_db()
    assert theirs.status == Member.Status.PENDING


def test_a_reviewed_member_shows_no_review_buttons(client, utility, contract):
    member = applicant(utility, contract, status=Member.Status.ACTIVE)
    client.force_login(make_staff(utility))
    page = client.get(reverse("admin:accounts_member_change", args=[member.pk]))
    assertNotContains(page, "member-approve-form")


# 「承認」 on the list asks first, as 「否認」 does (findings 14b-8) ---------------------------


@pytest.fixture
def two_applicants(utility, contract):
    """One whose typed values all match the contract, one whose phone does not."""
    matching = applicant(utility, contract, login_id="matching1")
    other = CustomerFactory(utility=utility, name="水道 次郎", phone="0762222222")
    mismatched = applicant(
        utility, other, login_id="mismatch1", name="水道 次郎", phone="0769999999"
    )
    return matching, mismatched


def test_approve_on_the_list_first_lists_the_members_with_their_evidence(
    staff_client, two_applicants, mailoutbox
):
    """The outside attack: 「承認」 with every row selected (select_across) approved at once,
    members whose evidence showed × included."""
    matching, mismatched = two_applicants
    page = staff_client.post(
        reverse(CHANGELIST),
        {"action": "approve", "_selected_action": [matching.pk], "select_across": "1"},
    )
    assert page.status_code == HTTPStatus.OK
    assertTemplateUsed(page, "admin/accounts/member/approve.html")
    text = page.content.decode()
    assert "承認の確認" in text
    assert "matching1" in text and "mismatch1" in text
    assert '<span class="match-item">電話×</span>' in text
    assert "一致しない項目があります" in text
    ticked = {row.member: row.ticked for row in page.context["rows"]}
    assert ticked == {matching: True, mismatched: False}
    for member in two_applicants:
        member.refresh_from_db()
        assert member.status == Member.Status.PENDING
    assert mailoutbox == []


def test_confirming_approves_the_ticked_and_leaves_an_unticked_mismatch_pending(
    staff_client, two_applicants, mailoutbox
):
    matching, mismatched = two_applicants
    response = approve_from_list(staff_client, matching, mismatched)
    assertContains(response, "matching1: 承認しました。")
    assertContains(response, "チェックを入れなかった1件は承認していません。")
    matching.refresh_from_db()
    mismatched.refresh_from_db()
    assert (matching.status, mismatched.status) == (Member.Status.ACTIVE, Member.Status.PENDING)
    assert [m.to for m in mailoutbox] == [[matching.email]]


def test_a_mismatch_ticked_by_staff_is_approved(staff_client, two_applicants):
    response = approve_from_list(staff_client, *two_applicants, tick=two_applicants)
    assertContains(response, "mismatch1: 承認しました。")
    assert not Member.objects.filter(status=Member.Status.PENDING).exists()


def test_a_forged_apply_with_select_across_approves_nothing_unticked(
    staff_client, two_applicants, mailoutbox
):
    matching, _mismatched = two_applicants
    staff_client.post(
        reverse(CHANGELIST),
        {
            "action": "approve",
            "_selected_action": [matching.pk],
            "select_across": "1",
            "apply": "1",
        },
    )
    assert not Member.objects.filter(status=Member.Status.ACTIVE, is_staff=False).exists()
    assert mailoutbox == []


def test_a_nickname_stored_as_evidence_before_is_not_held_against_the_member(client):
    """Matches stored before matching left the nickname out carry 「name: false」: staff
    of a nickname utility see no 氏名× and the approval page ticks the member."""
    nayoro = UtilityFactory(code_style=True, activation="staff")
    contract = CustomerFactory(utility=nayoro, phone="0165412345", name_kana="スイドウ タロウ")
    member = MemberFactory(utility=nayoro, status=Member.Status.PENDING, name="たろちゃん")
    member.signup_customer_number = contract.number
    member.signup_match = {
        "customer_id": contract.pk,
        "number": True,
        "name": False,
        "phone": True,
        "name_kana": True,
    }
    member.save()
    client.force_login(make_staff(nayoro))
    listed = client.get(reverse(CHANGELIST))
    assertContains(listed, '<span class="match-item">カナ○</span>')
    assertNotContains(listed, "氏名×")
    page = client.get(reverse("admin:accounts_member_change", args=[member.pk]))
    assertNotContains(page, "<th>氏名</th>")
    confirm = client.post(
        reverse(CHANGELIST), {"action": "approve", "_selected_action": [member.pk]}
    )
    assert [row.ticked for row in confirm.context["rows"]] == [True]

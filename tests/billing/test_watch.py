"""見守り: a second address, confirmed by a single-use expiring link, mailed low use, stoppable."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core import mail
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from billing.models import Watch
from tests.billing.test_bill_mail import NOW, member_of, row, run_import
from tests.factories import CustomerFactory, UtilityFactory

pytestmark = pytest.mark.django_db

CONSENT = re.compile(r"https://portal\.example\.jp/\S+/watch/consent/\S+/")
STOP = re.compile(r"https://portal\.example\.jp/\S+/watch/stop/\S+/")


@pytest.fixture
def nayoro(time_machine, settings):
    time_machine.move_to(NOW, tick=False)
    settings.PORTAL_BASE_URL = "https://portal.example.jp"
    return UtilityFactory(slug="nayoro", customer_number_digits=11, portal_name="名寄市ポータル")


@pytest.fixture
def setup(nayoro, client):
    contract = CustomerFactory(utility=nayoro, address="名寄市西1条南1丁目")
    member = member_of(contract)
    client.force_login(member)
    return contract, member


def register(client, utility, email="musuko@example.jp", threshold="3"):
    return client.post(
        reverse("billing:watch", args=[utility.slug]), {"email": email, "threshold_m3": threshold}
    )


def second_mails(address="musuko@example.jp"):
    return [m for m in mail.outbox if m.to == [address]]


def test_low_use_goes_to_the_second_address_only_after_consent(setup, client, tmp_path):
    contract, member = setup
    register(client, contract.utility)
    request = second_mails()[0]
    assert request.subject == "【名寄市ポータル】見守りメールの受け取りについてのお願い"
    assert "2026年12月13日 10:00まで、1回だけ使えます" in request.body
    run_import(tmp_path, row(contract, usage=1, total=1000))
    assert len(second_mails()) == 1  # not consented yet: nothing about use
    consent_url = CONSENT.search(request.body).group(0)
    page = client.get(consent_url)
    assertContains(page, "見守りメールの受け取りへの同意")
    page = client.post(consent_url)
    assertContains(page, "musuko@example.jp</span>での受け取りへの同意を記録しました")
    watch = Watch.objects.get()
    assert (watch.consented_email, watch.consented_at) == ("musuko@example.jp", NOW)
    run_import(
        tmp_path,
        row(contract, usage=2, total=1900, start="2026-11-26", end="2026-12-05", read="2026-12-05"),
    )
    alert = second_mails()[-1]
    assert alert.subject == "【名寄市ポータル】見守りメール: 水道の使用量が少なくなっています"
    assert "ご利用の地域: 名寄市西\n" in alert.body and "使用水量: 2 m³" in alert.body
    assert "1条南1丁目" not in alert.body  # no more than the consent page showed
    assert STOP.search(alert.body)
    # The member's own mails never go to the second address, nor its amounts.
    assert all("1,900円" not in m.body for m in second_mails())


def test_use_at_or_over_the_threshold_sends_nothing(setup, client, tmp_path):
    contract, _ = setup
    register(client, contract.utility, threshold="3")
    client.post(CONSENT.search(second_mails()[0].body).group(0))
    run_import(tmp_path, row(contract, usage=3))
    assert len(second_mails()) == 1


def test_the_consent_link_is_single_use(setup, client):
    contract, _ = setup
    register(client, contract.utility)
    url = CONSENT.search(second_mails()[0].body).group(0)
    client.post(url)
    again = client.post(url)
    assert again.status_code == 400
    assertContains(again, "すでに使われたか", status_code=400)


def test_the_consent_link_expires(setup, client, time_machine):
    contract, _ = setup
    register(client, contract.utility)
    url = CONSENT.search(second_mails()[0].body).group(0)
    time_machine.move_to(NOW + datetime.timedelta(hours=168), tick=False)
    response = client.post(url)
    assertContains(response, "同意の期限が過ぎています", status_code=400)
    assert Watch.objects.get().consented_at is None


def test_the_second_person_stops_it_from_the_mail_and_the_member_sees_it(setup, client, tmp_path):
    contract, _ = setup
    register(client, contract.utility)
    client.post(CONSENT.search(second_mails()[0].body).group(0))
    stop_url = STOP.search(second_mails()[0].body).group(0)
    assertContains(client.get(stop_url), "停止する")  # a GET (a mail scanner) stops nothing
    assert Watch.objects.get().stopped_at is None
    assertContains(client.post(stop_url), "今後、このアドレスにお知らせは届きません")
    run_import(tmp_path, row(contract, usage=1))
    assert len(second_mails()) == 1
    assertContains(client.get(reverse("billing:watch", args=["nayoro"])), "見守る方が停止しました")


def test_the_member_removes_it(setup, client, tmp_path):
    contract, _ = setup
    register(client, contract.utility)
    client.post(CONSENT.search(second_mails()[0].body).group(0))
    client.post(reverse("billing:watch", args=["nayoro"]), {"remove": "1"})
    assert not Watch.objects.exists()
    run_import(tmp_path, row(contract, usage=1))
    assert len(second_mails()) == 1


def test_bad_input_is_told_beside_the_field(setup, client):
    contract, member = setup
    response = register(client, contract.utility, email=member.email, threshold="abc")
    assertContains(response, "見守る方(ご家族など)のアドレスを入力してください")
    assertContains(response, "使用水量は半角の数字で入力してください。")
    assert not Watch.objects.exists()


def test_a_link_of_another_utility_is_refused(setup, client):
    contract, _ = setup
    register(client, contract.utility)
    url = CONSENT.search(second_mails()[0].body).group(0)
    UtilityFactory(slug="kanazawa", customer_number_digits=14)
    response = client.post(url.replace("/nayoro/", "/kanazawa/"))
    assert response.status_code == 400
    assert Watch.objects.get().consented_at is None


@pytest.mark.parametrize("address", ["x@localhost", "x@[10.0.0.5]", '"taro"@example.jp'])
def test_the_second_address_is_checked_as_every_typed_address(setup, client, address):
    contract, _ = setup
    response = register(client, contract.utility, email=address)
    assert response.status_code == 200
    assert response.context["form"].errors["email"]
    assert not Watch.objects.exists()
    assert mail.outbox == []


def test_consent_mails_are_limited_per_member_and_per_address(setup, client, nayoro, settings):
    """The tester's 20 POSTs in a few seconds sent 20 consent mails."""
    contract, _ = setup
    for n in range(3):
        assert register(client, contract.utility, email=f"v{n}@example.jp").status_code == 302
    response = register(client, contract.utility, email="v3@example.jp")
    assertContains(response, "見守りメールの確認は、しばらく送れません", status_code=429)
    assert len(mail.outbox) == 3
    # Another member naming the same address: that address's own limit.
    for _ in range(3):
        other = member_of(CustomerFactory(utility=nayoro))
        client.force_login(other)
        register(client, contract.utility, email="target@example.jp")
    assert len(second_mails("target@example.jp")) == 2
    assert Watch.objects.filter(email="target@example.jp").count() == 2


def test_an_address_that_stopped_is_not_asked_again_by_the_same_member_for_a_while(
    setup, client, time_machine
):
    contract, member = setup
    register(client, contract.utility)
    client.post(STOP.search(second_mails()[0].body).group(0))
    client.post(reverse("billing:watch", args=["nayoro"]), {"remove": "1"})
    response = register(client, contract.utility)
    assertContains(response, "この方は見守りメールを停止されています")
    assert len(second_mails()) == 1
    time_machine.move_to(NOW + datetime.timedelta(days=31), tick=False)
    client.force_login(member)
    assert register(client, contract.utility).status_code == 302
    assert len(second_mails()) == 2


@pytest.mark.parametrize("token", ["{pk}:xSuFFqsymPV1JgRg7INixKofg6cYF8AU5P4ygnjnS5g", "3:AAAA"])
def test_a_forged_or_mangled_stop_link_says_it_is_invalid(setup, client, token):
    contract, _ = setup
    register(client, contract.utility)
    client.post(CONSENT.search(second_mails()[0].body).group(0))
    watch = Watch.objects.get()
    url = reverse("billing:watch_stop", args=["nayoro", token.format(pk=watch.pk)])
    for response in (client.get(url), client.post(url)):
        assertContains(response, "このURLは使えません", status_code=400)
        assertNotContains(response, "解除されています", status_code=400)
    watch.refresh_from_db()
    assert watch.active


def test_the_watcher_is_told_whose_use_and_the_alert_shows_no_more_than_that(
    setup, client, tmp_path
):
    """The consent said only 「会員の方」; the first alert then gave the full address."""
    contract, member = setup
    member.name = "名寄 花子"
    member.save()
    register(client, contract.utility)
    request = second_mails()[0]
    assert "名寄 花子 様" in request.body and "名寄市西" in request.body
    assert "名寄市西1条南1丁目" not in request.body
    consent_url = CONSENT.search(request.body).group(0)
    page = client.get(consent_url)
    assertContains(page, "名寄 花子 様")
    assertContains(page, "名寄市西")
    assertNotContains(page, "1条南1丁目")
    client.post(consent_url)
    run_import(tmp_path, row(contract, usage=1, total=1000))
    alert = second_mails()[-1]
    assert "名寄 花子 様" in alert.body and "名寄市西" in alert.body
    assert "1条南1丁目" not in alert.body


@pytest.mark.parametrize(
    ("address", "area"),
    [
        ("金沢市本町4丁目2-6", "金沢市本町"),
        ("名寄市西１条南１丁目", "名寄市西"),
        ("金沢市広坂一丁目1番1号", "金沢市広坂"),
        ("金沢市十間町", "金沢市十間町"),
    ],
)
def test_the_area_is_the_address_before_its_numbers(address, area):
    from billing.watch import area_of

    assert area_of(address) == area

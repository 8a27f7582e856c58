"""The client address behind the balancer, however the balancer writes it (findings 14b-1).

The second outside attack: with PROXY_COUNT=1, five clients written as Azure Application
Gateway writes them (``198.51.100.1:1001``) all fell back to the balancer's own address, so
five failures locked out every resident and every request without X-Forwarded-For. Now
``ip:port``, ``[v6]`` and ``[v6]:port`` are read as the address they hold, and a value that
is still no address gets a bucket of its own, never the balancer's.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from portal import net
from tests.conftest import PASSWORD
from tests.factories import MemberFactory, UtilityFactory

pytestmark = pytest.mark.django_db

BALANCER = "127.0.0.1"
# The legacy spellings inet_aton() reads (octal, hex, fewer parts): Python's ipaddress refuses
# them, and no balancer writes them. Each stays a client of its own.
UNPARSEABLE = ["010.003.009.009", "10.3.2313", "167971081", "0x0a.3.9.9"]


@pytest.fixture
def nayoro(settings):
    settings.PORTAL_PROXY_COUNT = 1
    utility = UtilityFactory(code_style=True, slug="nayoro")
    MemberFactory(utility=utility, login_id="", email="taro@example.jp")
    MemberFactory(utility=utility, login_id="", email="hanako@example.jp")
    return utility


def login(utility, email: str, password: str, forwarded: str | None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    browser = Client(REMOTE_ADDR=BALANCER, **extra)
    url = reverse("accounts:login", args=[utility.slug])
    return browser.post(url, {"identifier": email, "password": password})


def audit_ips(caplog) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.name == "accounts.audit"]
    return [line.split(" ip=")[1].split(" ")[0] for line in lines if " ip=" in line]


def test_five_clients_written_ip_port_are_five_clients_not_the_balancer(nayoro, caplog):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    for n in range(1, 6):
        response = login(nayoro, f"nobody{n}@example.jp", "Wrong#pass1", f"198.51.100.{n}:100{n}")
        assert response.status_code == HTTPStatus.OK, n
    # Another client, and a request that came without X-Forwarded-For, still log in.
    assert login(nayoro, "taro@example.jp", PASSWORD, "203.0.113.9:40000").status_code == 302
    assert login(nayoro, "hanako@example.jp", PASSWORD, None).status_code == 302
    ips = audit_ips(caplog)
    assert ips[:5] == [f"198.51.100.{n}" for n in range(1, 6)]
    assert "203.0.113.9" in ips


def test_a_port_does_not_make_a_new_client(nayoro):
    for port in range(1001, 1006):
        response = login(nayoro, f"nobody{port}@example.jp", "Wrong#pass1", f"198.51.100.1:{port}")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert login(nayoro, "taro@example.jp", PASSWORD, "198.51.100.1").status_code == 429
    assert login(nayoro, "taro@example.jp", PASSWORD, "198.51.100.2:1001").status_code == 302


@pytest.mark.parametrize("written", ["[2001:db8:77:1::5]", "[2001:db8:77:1::5]:443"])
def test_a_bracketed_ipv6_client_is_its_64(nayoro, caplog, written):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    for n in range(5):
        response = login(nayoro, f"nobody{n}@example.jp", "Wrong#pass1", written)
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert set(audit_ips(caplog)) == {"2001:db8:77:1::"}
    # Its /64 is one client whichever way it is written; the next /64 is someone else.
    assert login(nayoro, "taro@example.jp", PASSWORD, "2001:db8:77:1::9").status_code == 429
    assert login(nayoro, "taro@example.jp", PASSWORD, "[2001:db8:77:2::5]:443").status_code == 302


def test_unparseable_entries_never_share_the_balancers_bucket(nayoro, caplog):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    for n, written in enumerate([*UNPARSEABLE, "not-an-address"]):
        response = login(nayoro, f"nobody{n}@example.jp", "Wrong#pass1", written)
        assert response.status_code == HTTPStatus.OK, written
    assert login(nayoro, "taro@example.jp", PASSWORD, "203.0.113.9:40000").status_code == 302
    assert login(nayoro, "hanako@example.jp", PASSWORD, None).status_code == 302
    failures = audit_ips(caplog)[:5]
    assert BALANCER not in failures and len(set(failures)) == 5


def test_one_unparseable_value_is_one_client_of_its_own(nayoro):
    for n in range(5):
        response = login(nayoro, f"nobody{n}@example.jp", "Wrong#pass1", "0x0a.3.9.9")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert login(nayoro, "taro@example.jp", PASSWORD, "0x0a.3.9.9").status_code == 429
    assert login(nayoro, "taro@example.jp", PASSWORD, "0x0a.3.9.10").status_code == 302
    assert login(nayoro, "hanako@example.jp", PASSWORD, None).status_code == 302


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        ("198.51.100.1:1001", "198.51.100.1"),
        ("  198.51.100.1:1001 ", "198.51.100.1"),
        ("192.0.2.77, 198.51.100.1:1001", "198.51.100.1"),
        ("[2001:db8:77:1::5]", "2001:db8:77:1::"),
        ("[2001:db8:77:1::5]:443", "2001:db8:77:1::"),
        ("[::ffff:10.3.3.3]:80", "10.3.3.3"),
        ("2001:db8:77:1::5", "2001:db8:77:1::"),  # colons without brackets: all address
        ("fe80::1%eth0", "fe80::"),
    ],
)
def test_client_ip_reads_host_port_and_brackets(settings, forwarded, client):
    settings.PORTAL_PROXY_COUNT = 1
    request = RequestFactory().get("/", REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR=forwarded)
    assert net.client_ip(request) == client


@pytest.mark.parametrize(
    "written", [*UNPARSEABLE, "1.2.3.4:", "1.2.3.4:port", "[2001:db8::1", "[10.0.0.1]", "unknown"]
)
def test_an_unparseable_client_is_a_bucket_of_its_own(settings, written):
    settings.PORTAL_PROXY_COUNT = 1
    factory = RequestFactory()
    request = factory.get("/", REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR=f"192.0.2.1, {written}")
    bucket = net.client_ip(request)
    assert bucket != BALANCER
    assert bucket.startswith("100::")  # the discard prefix (RFC 6666): an address nobody has
    # The same value is the same bucket; another value is another.
    again = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=written)
    assert net.client_ip(again) == bucket
    other = factory.get("/", REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR=written + "x")
    assert net.client_ip(other) != bucket


def test_an_empty_last_entry_never_trusts_the_one_the_client_wrote(settings):
    """The balancer's entry is the last one, even when it is empty: the entry left of it was
    written by the client and is never read instead."""
    settings.PORTAL_PROXY_COUNT = 1
    request = RequestFactory().get("/", REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR="192.0.2.1, ")
    assert net.client_ip(request).startswith("100::")


def test_an_unparseable_client_is_warned_about_once(settings, caplog, monkeypatch):
    settings.PORTAL_PROXY_COUNT = 1
    monkeypatch.setattr(net, "_warned", False)
    caplog.set_level(logging.WARNING, logger="portal.net")
    for written in ["10.3.2313", "167971081", "10.3.2313"]:
        net.client_ip(RequestFactory().get("/", HTTP_X_FORWARDED_FOR=written))
    (warning,) = [r for r in caplog.records if r.name == "portal.net"]
    assert warning.levelno == logging.WARNING
    assert "'10.3.2313'" in warning.getMessage()
    assert "PROXY_COUNT" in warning.getMessage()


def test_an_unparseable_remote_addr_is_a_bucket_too(settings):
    settings.PORTAL_PROXY_COUNT = 0
    request = RequestFactory().get("/", REMOTE_ADDR="")
    assert net.client_ip(request).startswith("100::")

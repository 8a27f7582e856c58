"""Login lockout as an intruder meets it: real POSTs through the login forms.

Semantics (README "Login lockout"): after AXES_FAILURE_LIMIT failures an identifier is locked
within its utility whatever the addresses they came from (a spread attack), and a client
address is locked whatever identifiers it tried (a spray). The client address is read through
PROXY_COUNT exactly as the rate limiter and the audit log read it, so a load balancer's own
address is never what gets locked.
"""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from portal.models import Utility
from tests.conftest import PASSWORD
from tests.factories import MemberFactory, StaffFactory, UtilityFactory

pytestmark = pytest.mark.django_db

BALANCER = "10.0.0.1"


def login_url(utility) -> str:
    return reverse("accounts:login", args=[utility.slug])


def post_login(utility, identifier: str, password: str, address: str) -> object:
    """One login from a fresh browser at ``address`` (REMOTE_ADDR, no proxy)."""
    return Client(REMOTE_ADDR=address).post(
        login_url(utility), {"identifier": identifier, "password": password}
    )


def post_behind_balancer(utility, identifier: str, password: str, client_address: str):
    """One login through the balancer: it connects from BALANCER and appends the client."""
    browser = Client(REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR=client_address)
    return browser.post(login_url(utility), {"identifier": identifier, "password": password})


@pytest.fixture
def resident(utility):
    return MemberFactory(utility=utility, login_id="suidotaro")


def test_failures_from_many_addresses_lock_the_login_id_even_for_the_right_password(resident):
    utility = resident.utility
    for n in range(5):
        post_login(utility, "suidotaro", "wrong-pass1", f"198.51.100.{n + 1}")
    response = post_login(utility, "suidotaro", PASSWORD, "203.0.113.99")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert "しばらくログインできません" in response.content.decode()


def test_failures_from_many_addresses_lock_an_email_login():
    utility = UtilityFactory(code_style=True)
    MemberFactory(utility=utility, login_id="", email="taro@example.jp")
    for n in range(5):
        post_login(utility, "Taro@Example.jp", "Wrong#pass1", f"198.51.100.{n + 1}")
    response = post_login(utility, "taro@example.jp", PASSWORD, "203.0.113.99")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_failures_from_many_addresses_lock_a_staff_admin_login(utility):
    StaffFactory(utility=utility, login_id="kanazawa-staff")
    admin_login = reverse("admin:login")
    for n in range(5):
        Client(REMOTE_ADDR=f"198.51.100.{n + 1}").post(
            admin_login, {"username": "kanazawa-staff", "password": "wrong-pass1"}
        )
    response = Client(REMOTE_ADDR="203.0.113.99").post(
        admin_login, {"username": "kanazawa-staff", "password": PASSWORD}
    )
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_a_full_width_spelling_counts_against_the_same_login_id(resident):
    utility = resident.utility
    for n in range(3):
        post_login(utility, "SUIDOTARO", "wrong-pass1", f"198.51.100.{n + 1}")
    for n in range(2):
        post_login(utility, "ｓｕｉｄｏｔａｒｏ", "wrong-pass1", f"192.0.2.{n + 1}")
    response = post_login(utility, "suidotaro", PASSWORD, "203.0.113.99")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_a_full_width_spelling_of_the_right_login_id_logs_in(resident):
    response = post_login(resident.utility, "ｓｕｉｄｏｔａｒｏ", PASSWORD, "198.51.100.1")
    assert response.status_code == HTTPStatus.FOUND


@pytest.mark.parametrize("look_alike", ["suıdotaro", "suİdotaro"])
def test_a_look_alike_login_id_never_logs_in_as_the_member(resident, look_alike):
    response = post_login(resident.utility, look_alike, PASSWORD, "198.51.100.1")
    assert response.status_code == HTTPStatus.OK
    assert "ログインIDまたはパスワードが正しくありません。" in response.content.decode()


def test_a_look_alike_address_never_logs_in_as_the_member():
    utility = UtilityFactory(code_style=True)
    MemberFactory(utility=utility, login_id="", email="taro@example.jp")
    response = post_login(utility, "tarı@example.jp", PASSWORD, "198.51.100.1")
    assert response.status_code == HTTPStatus.OK
    assert "_auth_user_id" not in Client().session


def test_behind_the_balancer_a_spray_locks_only_the_sprayers_address(settings, resident):
    settings.PORTAL_PROXY_COUNT = 1
    utility = resident.utility
    for n in range(5):
        post_behind_balancer(utility, f"nobody{n:03d}", "wrong-pass1", "203.0.113.5")
    # Everyone else, of this utility and of others, still logs in through the same balancer.
    other_city = UtilityFactory()
    neighbour = MemberFactory(utility=other_city, login_id="tonari01")
    assert post_behind_balancer(utility, "suidotaro", PASSWORD, "198.51.100.7").status_code == 302
    response = post_behind_balancer(other_city, neighbour.login_id, PASSWORD, "198.51.100.8")
    assert response.status_code == HTTPStatus.FOUND
    # The sprayer's own address is throttled, whatever it tries next.
    response = post_behind_balancer(utility, "suidotaro", PASSWORD, "203.0.113.5")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_a_forged_forwarded_for_does_not_escape_the_address_lock(settings, utility):
    """The client may write X-Forwarded-For itself; only the balancer's last entry counts."""
    settings.PORTAL_PROXY_COUNT = 1
    for n in range(5):
        Client(REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.5").post(
            login_url(utility), {"identifier": f"nobody{n:03d}", "password": "wrong-pass1"}
        )
    member = MemberFactory(utility=utility)
    response = Client(REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR="192.0.2.77, 203.0.113.5").post(
        login_url(utility), {"identifier": member.login_id, "password": PASSWORD}
    )
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_a_success_clears_the_login_id_but_not_the_address(resident):
    """An intruder with an account of their own cannot wipe the address's failures by logging in."""
    utility = resident.utility
    own = MemberFactory(utility=utility, login_id="intruder1")
    for n in range(4):
        post_login(utility, f"nobody{n:03d}", "wrong-pass1", "203.0.113.5")
    assert post_login(utility, own.login_id, PASSWORD, "203.0.113.5").status_code == 302
    post_login(utility, "nobody999", "wrong-pass1", "203.0.113.5")
    response = post_login(utility, "suidotaro", PASSWORD, "203.0.113.5")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_a_resident_who_mistyped_then_logged_in_starts_again_from_zero(resident):
    utility = resident.utility
    for n in range(4):
        post_login(utility, "suidotaro", "wrong-pass1", f"198.51.100.{n + 1}")
    assert post_login(utility, "suidotaro", PASSWORD, "198.51.100.50").status_code == 302
    for n in range(4):
        post_login(utility, "suidotaro", "wrong-pass1", f"192.0.2.{n + 1}")
    assert post_login(utility, "suidotaro", PASSWORD, "198.51.100.51").status_code == 302


def test_an_over_long_admin_username_is_refused_without_an_error(db):
    response = Client().post(reverse("admin:login"), {"username": "a" * 300, "password": "x"})
    assert response.status_code == HTTPStatus.OK


def test_an_over_long_login_identifier_is_refused_without_an_error(utility):
    response = post_login(utility, "a" * 254, "wrong-pass1", "198.51.100.1")
    assert response.status_code == HTTPStatus.OK
    response = post_login(utility, "a" * 5000, "wrong-pass1", "198.51.100.1")
    assert response.status_code == HTTPStatus.OK


def test_staff_unlock_a_resident_by_deleting_the_attempts_in_the_admin(resident, client):
    from axes.models import AccessAttempt

    utility = resident.utility
    for n in range(5):
        post_login(utility, "suidotaro", "wrong-pass1", f"198.51.100.{n + 1}")
    staff = StaffFactory(utility=utility, is_superuser=False)
    staff.user_permissions.add(*_axes_permissions())
    client.force_login(staff)
    changelist = client.get(reverse("admin:accounts_loginlock_changelist"))
    assert "suidotaro" in changelist.content.decode()
    ids = list(AccessAttempt.objects.values_list("pk", flat=True))
    response = client.post(
        reverse("admin:accounts_loginlock_changelist"),
        {"action": "unlock", "_selected_action": ids},
    )
    assert response.status_code == HTTPStatus.FOUND
    assert post_login(utility, "suidotaro", PASSWORD, "203.0.113.99").status_code == 302


def test_staff_see_only_their_own_utilitys_lockouts(resident, client):
    other_city = UtilityFactory()
    MemberFactory(utility=other_city, login_id="tonari01")
    post_login(other_city, "tonari01", "wrong-pass1", "198.51.100.1")
    post_login(resident.utility, "suidotaro", "wrong-pass1", "198.51.100.2")
    staff = StaffFactory(utility=resident.utility, is_superuser=False)
    staff.user_permissions.add(*_axes_permissions())
    client.force_login(staff)
    page = client.get(reverse("admin:accounts_loginlock_changelist")).content.decode()
    assert "suidotaro" in page
    assert "tonari01" not in page


def test_every_row_of_a_locked_login_id_or_address_says_so(resident, client):
    """A spread attack leaves one row per address, each with one failure: staff must still
    read 「停止中」 on them, since the login ID is what is locked (and so for a spray)."""
    utility = resident.utility
    for n in range(5):  # a spread attack: suidotaro is locked
        post_login(utility, "suidotaro", "wrong-pass1", f"198.51.100.{n + 1}")
    for n in range(5):  # a spray: 203.0.113.5 is locked
        post_login(utility, f"nobody{n:03d}", "wrong-pass1", "203.0.113.5")
    post_login(utility, "hanako01", "wrong-pass1", "192.0.2.1")  # one typo, nothing locked
    staff = StaffFactory(utility=utility, is_superuser=False)
    staff.user_permissions.add(*_axes_permissions())
    client.force_login(staff)
    page = client.get(reverse("admin:accounts_loginlock_changelist")).content.decode()
    assert page.count("停止中") == 10
    assert page.count("あと4回で停止") == 1


def _axes_permissions():
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(codename__endswith="_loginlock")


def test_a_look_alike_address_is_refused_at_the_reset_form_and_sends_nothing(mailoutbox):
    utility = UtilityFactory(code_style=True)
    MemberFactory(utility=utility, login_id="", email="taro@example.jp")
    response = Client().post(
        reverse("accounts:recovery", args=[utility.slug]), {"email": "tarı@example.jp"}
    )
    assert "メールアドレスは半角の英数字と記号で入力してください。" in response.content.decode()
    assert mailoutbox == []


def test_full_width_spellings_of_an_address_share_one_reset_limit(settings, mailoutbox):
    settings.PORTAL_RESET_MAIL_RATE_PER_EMAIL = "2/h"
    utility = UtilityFactory(code_style=True)
    MemberFactory(utility=utility, login_id="", email="taro@example.jp")
    url = reverse("accounts:recovery", args=[utility.slug])
    for n, spelling in enumerate(["taro@example.jp", "ＴＡＲＯ@example.jp", "Taro@EXAMPLE.jp"]):
        response = Client(REMOTE_ADDR=f"198.51.100.{n + 1}").post(url, {"email": spelling})
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert len(mailoutbox) == 2


@pytest.mark.parametrize("forwarded", ["10.5.1.00", "not-an-address", "999.1.1.1", "1.2.3.4:443"])
def test_a_forwarded_for_that_is_no_address_is_no_error(settings, resident, forwarded):
    """A failed login stores the client address; PostgreSQL refused these as inet values."""
    settings.PORTAL_PROXY_COUNT = 1
    for form, data in [
        (login_url(resident.utility), {"identifier": "suidotaro", "password": "wrong-pass1"}),
        (reverse("admin:login"), {"username": "nobody-staff", "password": "wrong-pass1"}),
    ]:
        browser = Client(REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR=forwarded)
        assert browser.post(form, data).status_code == HTTPStatus.OK


# Refused attempts are no failures (the outside attack's lockout amplification) -----------


@pytest.fixture(params=["login_id", "email"])
def city_and_member(request, db):
    """A resident of a login-ID utility (kanazawa-like) or of an email one (nayoro-like)."""
    if request.param == "email":
        utility = UtilityFactory(code_style=True)
        member = MemberFactory(utility=utility, login_id="", email="act09@example.jp")
        return utility, member, member.email, lambda n: f"nobody{n}@example.jp"
    utility = UtilityFactory()
    member = MemberFactory(utility=utility, login_id="act09abc")
    return utility, member, member.login_id, lambda n: f"nobody{n:03d}"


def test_right_passwords_refused_at_a_locked_address_do_not_count_against_the_member(
    settings, city_and_member
):
    settings.PORTAL_PROXY_COUNT = 1
    utility, _member, identifier, made_up = city_and_member
    for n in range(5):  # a spray locks 10.123.1.1
        post_behind_balancer(utility, made_up(n), "Wrong#pass1", "10.123.1.1")
    for _ in range(3):  # the member, unlucky enough to share it, tries the right password
        response = post_behind_balancer(utility, identifier, PASSWORD, "10.123.1.1")
        assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    # Elsewhere the member still has all five tries: four typos, then the right password.
    for n in range(4):
        response = post_behind_balancer(utility, identifier, "Wrong#pass1", f"10.123.2.{n + 1}")
        assert response.status_code == HTTPStatus.OK, n
    response = post_behind_balancer(utility, identifier, PASSWORD, "10.123.3.1")
    assert response.status_code == HTTPStatus.FOUND


def test_tries_refused_for_a_locked_identifier_do_not_lock_the_address(settings, city_and_member):
    settings.PORTAL_PROXY_COUNT = 1
    utility, _member, identifier, _made_up = city_and_member
    for n in range(5):  # someone guesses the member's password from five addresses
        post_behind_balancer(utility, identifier, "Wrong#pass1", f"10.124.2.{n + 1}")
    for _ in range(5):  # the member, at home, tries the right password five times
        response = post_behind_balancer(utility, identifier, PASSWORD, "10.124.1.1")
        assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    # Another resident of the same household logs in from that address.
    neighbour = MemberFactory(utility=utility, login_id="tonari01", email="tonari@example.jp")
    neighbour_id = neighbour.email if utility.logs_in_with_email else neighbour.login_id
    response = post_behind_balancer(utility, neighbour_id, PASSWORD, "10.124.1.1")
    assert response.status_code == HTTPStatus.FOUND


def test_an_admin_login_refused_for_a_locked_address_is_no_failure_of_the_staff_id(
    settings, utility
):
    settings.PORTAL_PROXY_COUNT = 1
    StaffFactory(utility=utility, login_id="kanazawa-staff")
    admin_login = reverse("admin:login")

    def post(username: str, password: str, address: str):
        browser = Client(REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR=address)
        return browser.post(admin_login, {"username": username, "password": password})

    for n in range(5):
        post(f"nobody-staff{n}", "wrong-pass1", "10.125.1.1")
    for _ in range(5):
        assert post("kanazawa-staff", PASSWORD, "10.125.1.1").status_code == 429
    assert post("kanazawa-staff", PASSWORD, "10.125.2.1").status_code == HTTPStatus.FOUND


# One client address, however it is written (IPv6 by /64, IPv4-mapped as IPv4) --------------


def test_a_spray_from_one_ipv6_network_locks_that_network(settings, resident):
    """An IPv6 client gets a /64 of its own: each address in it is the same client."""
    settings.PORTAL_PROXY_COUNT = 1
    utility = resident.utility
    for n in range(1, 6):
        response = post_behind_balancer(
            utility, f"nobody{n:03d}", "wrong-pass1", f"2001:db8:1:2::{n:x}"
        )
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS  # the 5th, as for IPv4
    response = post_behind_balancer(utility, "suidotaro", PASSWORD, "2001:db8:1:2:ffff::c")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    # The next /64 is someone else.
    response = post_behind_balancer(utility, "suidotaro", PASSWORD, "2001:db8:1:3::1")
    assert response.status_code == HTTPStatus.FOUND


def test_an_ipv4_mapped_address_is_the_same_client_as_the_ipv4_one(settings, resident):
    settings.PORTAL_PROXY_COUNT = 1
    utility = resident.utility
    for n in range(3):
        post_behind_balancer(utility, f"nobody{n:03d}", "wrong-pass1", "10.3.3.3")
    for n in range(3, 5):
        post_behind_balancer(utility, f"nobody{n:03d}", "wrong-pass1", "::ffff:10.3.3.3")
    response = post_behind_balancer(utility, "suidotaro", PASSWORD, "10.3.3.3")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    # Without a proxy, the server's own socket may hand over the mapped form too.
    response = post_login(utility, "suidotaro", PASSWORD, "::ffff:10.3.3.3")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS


# Staff lift their own utility's lockouts (the demo staff, as README says) ----------------


@pytest.fixture
def demo(time_machine):
    import datetime
    from zoneinfo import ZoneInfo

    from django.core.management import call_command

    # Within Kanazawa's hours (07:00〜02:00).
    time_machine.move_to(datetime.datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo")))
    call_command("loaddata", "utilities", verbosity=0)
    call_command("load_demo", verbosity=0)


def test_kanazawa_staff_see_and_lift_their_residents_lockout_in_the_admin(demo):
    kanazawa = Utility.objects.get(slug="kanazawa")
    nayoro = Utility.objects.get(slug="nayoro")
    for n in range(5):
        post_login(kanazawa, "suidotaro", "wrong-pass1", f"198.51.100.{n + 1}")
        post_login(nayoro, "taro@example.jp", "Wrong#pass1", f"192.0.2.{n + 1}")
    assert post_login(kanazawa, "suidotaro", "kanazawa2026", "203.0.113.9").status_code == 429

    staff = Client()
    response = staff.post(
        reverse("admin:login"),
        {"username": "kanazawa-staff", "password": "Kanazawa-Staff-2026", "next": "/admin/"},
        follow=True,
    )
    assert "ログイン試行" in response.content.decode()  # on the admin index
    changelist = reverse("admin:accounts_loginlock_changelist")
    page = staff.get(changelist)
    assert page.status_code == HTTPStatus.OK
    text = page.content.decode()
    assert "suidotaro" in text and "停止中" in text
    assert "taro@example.jp" not in text  # Nayoro's lockout is Nayoro staff's
    ids = list(page.context["cl"].result_list.values_list("pk", flat=True))
    response = staff.post(
        changelist, {"action": "unlock", "_selected_action": ids, "index": "0"}, follow=True
    )
    assert "件の停止を解除しました。" in response.content.decode()
    assert post_login(kanazawa, "suidotaro", "kanazawa2026", "203.0.113.9").status_code == 302
    # Nayoro's member is still locked.
    assert post_login(nayoro, "taro@example.jp", "Nayoro#2026", "203.0.113.9").status_code == 429

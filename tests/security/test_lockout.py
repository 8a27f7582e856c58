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

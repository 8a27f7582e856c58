"""Password hashes: Argon2id at OWASP's minimum, and older hashes rehashed at login."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, identify_hasher
from django.test import Client
from django.urls import reverse

from accounts.hashers import PortalArgon2PasswordHasher
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

PRODUCTION_HASHERS = [
    "accounts.hashers.PortalArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]


def test_new_passwords_get_argon2id_at_owasps_minimum(settings, utility):
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS
    member = MemberFactory(utility=utility)
    member.set_password("kanazawa2026")
    assert "$argon2id$" in member.password
    assert "m=19456,t=2,p=1" in member.password


def test_a_hash_with_djangos_default_cost_is_rehashed_at_the_next_login(settings, utility):
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS
    member = MemberFactory(utility=utility, login_id="suidotaro")
    old = Argon2PasswordHasher()
    member.password = old.encode("kanazawa2026", old.salt())
    member.save(update_fields=["password"])
    assert "m=102400" in member.password
    response = Client().post(
        reverse("accounts:login", args=[utility.slug]),
        {"identifier": "suidotaro", "password": "kanazawa2026"},
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert "m=19456,t=2,p=1" in member.password
    assert isinstance(identify_hasher(member.password), PortalArgon2PasswordHasher)


def test_passwords_are_hashed_one_at_a_time_below_the_pages_priority(monkeypatch):
    """A login burst must not take the CPU from pages (issue 17): hashes run in a niced thread."""
    import os
    import threading

    from argon2 import low_level

    seen = []
    real_hash = low_level.hash_secret

    def hash_secret(*args, **kwargs):
        seen.append(
            (
                threading.current_thread().name,
                os.getpriority(os.PRIO_PROCESS, threading.get_native_id()),
            )
        )
        return real_hash(*args, **kwargs)

    monkeypatch.setattr(low_level, "hash_secret", hash_secret)
    hasher = PortalArgon2PasswordHasher()
    encoded = hasher.encode("kanazawa2026", hasher.salt())
    assert hasher.verify("kanazawa2026", encoded)
    assert not hasher.verify("kanazawa2027", encoded)
    page_priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    ((name, priority),) = seen
    assert name.startswith("password-hashing")
    assert priority > page_priority

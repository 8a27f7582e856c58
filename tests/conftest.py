"""Shared fixtures only."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.factories import ContractLinkFactory, MemberFactory, UtilityFactory

PASSWORD = "suido2026"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def utility(db):
    return UtilityFactory()


@pytest.fixture
def user(utility):
    """An active resident of ``utility`` with one contract; password ``suido2026``."""
    member = MemberFactory(utility=utility)
    ContractLinkFactory(member=member)
    return member


@pytest.fixture
def logged_in_client(client, user):
    client.force_login(user)
    return client

"""Shared fixtures only."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from tests.factories import ContractLinkFactory, MemberFactory, UtilityFactory

PASSWORD = "suido2026"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def _only_test_blocks(connection) -> bool:
    return all(getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def _run_commit_hooks(connection) -> None:
    while connection.run_on_commit:
        _savepoints, func, _robust = connection.run_on_commit.pop(0)
        func()


@pytest.fixture(autouse=True)
def _commit_hooks_run_as_on_a_real_commit(monkeypatch):
    """A test with ``db`` runs inside a transaction that never commits, so ``on_commit`` hooks
    (the outbox hands its mails to the worker there) would never run. Run them when the code's
    own outermost block ends without error, or at once outside any, as a real commit would;
    a block rolled back drops its hooks as in production."""
    atomic_exit = transaction.Atomic.__exit__
    on_commit = BaseDatabaseWrapper.on_commit

    def exit_block(self, exc_type, exc_value, traceback):
        result = atomic_exit(self, exc_type, exc_value, traceback)
        connection = transaction.get_connection(self.using)
        if (
            exc_type is None
            and not getattr(self, "_from_testcase", False)
            and connection.in_atomic_block
            and _only_test_blocks(connection)
        ):
            _run_commit_hooks(connection)
        return result

    def add_hook(self, func, robust=False):
        on_commit(self, func, robust)
        if self.in_atomic_block and _only_test_blocks(self):
            _run_commit_hooks(self)

    monkeypatch.setattr(transaction.Atomic, "__exit__", exit_block)
    monkeypatch.setattr(BaseDatabaseWrapper, "on_commit", add_hook)


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

"""Imports in these tests take the forked-reader path even when the test process has threads.

The importer forks its reader only while no other thread runs (a safety rule for threaded
servers); earlier tests in a full run leave threads behind (a live server, a pool), which
would quietly send every import here down the one-process path.
"""

from __future__ import annotations

import os

import pytest

from billing import pipeline

REAL_CAN_FORK = pipeline._can_fork


@pytest.fixture(autouse=True)
def _fork_the_reader(monkeypatch):
    if hasattr(os, "fork"):
        monkeypatch.setattr(pipeline, "_can_fork", lambda: True)

"""Signed one-time link tokens and codes: pure helpers, no database."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from accounts import tokens

JST = ZoneInfo("Asia/Tokyo")
START = datetime.datetime(2025, 4, 1, 9, 0, tzinfo=JST)
DAY = datetime.timedelta(hours=24)


def test_a_token_gives_back_its_challenge_and_nonce():
    nonce = tokens.new_nonce()
    token = tokens.make_link_token(42, nonce)
    assert tokens.read_link_token(token, max_age=DAY) == (42, nonce)


def test_the_token_fits_in_a_url_path_segment():
    token = tokens.make_link_token(123456, tokens.new_nonce())
    assert "/" not in token and " " not in token and len(token) < 200


def test_a_token_dies_after_its_time_to_live(time_machine):
    time_machine.move_to(START, tick=False)
    token = tokens.make_link_token(1, tokens.new_nonce())
    time_machine.move_to(START + DAY - datetime.timedelta(seconds=1), tick=False)
    tokens.read_link_token(token, max_age=DAY)
    time_machine.move_to(START + DAY + datetime.timedelta(seconds=1), tick=False)
    with pytest.raises(tokens.TokenExpired):
        tokens.read_link_token(token, max_age=DAY)


@pytest.mark.parametrize("damage", [lambda t: t[:-1], lambda t: "x" + t, lambda t: t.upper()])
def test_an_altered_token_is_refused(damage):
    token = tokens.make_link_token(1, tokens.new_nonce())
    with pytest.raises(tokens.TokenInvalid):
        tokens.read_link_token(damage(token), max_age=DAY)


def test_a_token_for_another_purpose_is_refused():
    token = tokens.make_link_token(1, tokens.new_nonce(), salt="accounts.password-reset")
    with pytest.raises(tokens.TokenInvalid):
        tokens.read_link_token(token, max_age=DAY)


def test_only_the_hash_of_a_nonce_is_kept_and_it_checks_the_nonce():
    nonce = tokens.new_nonce()
    stored = tokens.hash_nonce(nonce)
    assert nonce not in stored
    assert tokens.nonce_matches(nonce, stored)
    assert not tokens.nonce_matches(tokens.new_nonce(), stored)


def test_nonces_do_not_repeat():
    assert len({tokens.new_nonce() for _ in range(1000)}) == 1000


def test_codes_are_six_digits_with_leading_zeros_kept():
    codes = [tokens.make_code() for _ in range(2000)]
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert any(code.startswith("0") for code in codes)

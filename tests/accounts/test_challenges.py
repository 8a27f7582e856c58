"""The one protocol for mailed links and codes (accounts.challenges)."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from accounts import challenges
from accounts.models import EmailChallenge
from tests.factories import MemberFactory, UtilityFactory
from tests.helpers import START, ask_for_code, enter_code, last_code

pytestmark = pytest.mark.django_db

SIGNUP = EmailChallenge.Purpose.SIGNUP
RESET = EmailChallenge.Purpose.PASSWORD_RESET


def test_a_link_opens_once_and_then_is_used(utility):
    challenge, token = challenges.issue_link(utility, SIGNUP, "a@example.jp")
    assert challenges.open_link(utility, SIGNUP, token) == challenge
    challenges.use(challenge)
    with pytest.raises(challenges.ChallengeUsed):
        challenges.open_link(utility, SIGNUP, token)


def test_a_link_is_only_good_for_its_utility_purpose_and_member(utility):
    member = MemberFactory(utility=utility)
    _challenge, token = challenges.issue_link(utility, RESET, member.email, member=member)
    with pytest.raises(challenges.ChallengeInvalid):
        challenges.open_link(UtilityFactory(), RESET, token)
    with pytest.raises(challenges.ChallengeInvalid):
        challenges.open_link(utility, SIGNUP, token)
    with pytest.raises(challenges.ChallengeInvalid):
        challenges.open_link(utility, RESET, token, member=MemberFactory(utility=utility))
    with pytest.raises(challenges.ChallengeInvalid):
        challenges.open_link(utility, RESET, token[:-3] + "xyz")


def test_a_link_expires_at_the_deadline_its_mail_states(utility, time_machine):
    time_machine.move_to(START, tick=False)
    challenge, token = challenges.issue_link(utility, SIGNUP, "a@example.jp")
    assert challenge.expires_at == START + datetime.timedelta(hours=utility.signup_link_ttl_hours)
    time_machine.move_to(challenge.expires_at - datetime.timedelta(seconds=1), tick=False)
    assert challenges.open_link(utility, SIGNUP, token) == challenge
    time_machine.move_to(challenge.expires_at, tick=False)
    with pytest.raises(challenges.ChallengeExpired):
        challenges.open_link(utility, SIGNUP, token)


def test_a_code_dies_after_the_utilitys_number_of_wrong_tries(utility):
    utility.code_attempts = 3
    utility.save()
    challenge, code = challenges.issue_code(utility, SIGNUP, "a@example.jp")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    with pytest.raises(challenges.CodeWrong) as first:
        challenges.check_code(utility, SIGNUP, challenge.pk, wrong)
    assert first.value.attempts_left == 2
    with pytest.raises(challenges.CodeWrong):
        challenges.check_code(utility, SIGNUP, challenge.pk, wrong)
    with pytest.raises(challenges.CodeDead):
        challenges.check_code(utility, SIGNUP, challenge.pk, wrong)
    with pytest.raises(challenges.CodeDead):
        challenges.check_code(utility, SIGNUP, challenge.pk, code)  # even the right one now


def test_the_code_page_says_the_utilitys_number_of_tries(mailoutbox):
    nayoro = UtilityFactory(code_style=True, code_attempts=2)
    browser = Client()
    ask_for_code(browser, nayoro)
    wrong = f"{(int(last_code(mailoutbox)) + 1) % 10**6:06d}"
    enter_code(browser, nayoro, wrong)
    page = enter_code(browser, nayoro, wrong).content.decode()
    assert "認証コードを2回間違えたため、この認証コードは使えなくなりました。" in page


def test_a_new_code_kills_the_earlier_one(utility):
    first, first_code = challenges.issue_code(utility, SIGNUP, "a@example.jp")
    challenges.issue_code(utility, SIGNUP, "A@example.jp")
    with pytest.raises(challenges.ChallengeUsed):  # replaced, not typed wrong too often
        challenges.check_code(utility, SIGNUP, first.pk, first_code)


def test_an_unanswerable_code_counts_and_dies_like_a_real_one(utility):
    challenge, code = challenges.issue_code(utility, RESET, "nobody@example.jp", answerable=False)
    for left in range(utility.code_attempts - 1, 0, -1):
        with pytest.raises(challenges.CodeWrong) as refusal:
            challenges.check_code(utility, RESET, challenge.pk, code)
        assert refusal.value.attempts_left == left
    with pytest.raises(challenges.CodeDead):
        challenges.check_code(utility, RESET, challenge.pk, code)


def test_retiring_a_member_kills_every_live_proof_of_theirs_only(utility):
    member, other = MemberFactory(utility=utility), MemberFactory(utility=utility)
    _reset, reset_token = challenges.issue_link(utility, RESET, member.email, member=member)
    code_row, code = challenges.issue_code(
        utility, EmailChallenge.Purpose.EMAIL_CHANGE, "new@example.jp", member=member
    )
    _theirs, their_token = challenges.issue_link(utility, RESET, other.email, member=other)
    assert challenges.retire_member(member) == 2
    with pytest.raises(challenges.ChallengeUsed):
        challenges.open_link(utility, RESET, reset_token)
    with pytest.raises(challenges.ChallengeUsed):
        challenges.check_code(utility, EmailChallenge.Purpose.EMAIL_CHANGE, code_row.pk, code)
    assert challenges.open_link(utility, RESET, their_token).member == other


def test_only_hashes_are_stored(utility):
    challenge, code = challenges.issue_code(utility, SIGNUP, "a@example.jp")
    link, token = challenges.issue_link(utility, SIGNUP, "b@example.jp")
    assert code not in challenge.secret_hash
    assert token not in link.secret_hash


def test_an_unanswerable_code_costs_the_same_hashing_as_a_real_one(utility, monkeypatch):
    """An unknown address must not answer sooner than a member's (enumeration by timing):
    both pay for hashing a code with the password hasher."""
    from django.contrib.auth.hashers import get_hasher

    hasher = type(get_hasher())
    encoded = []
    real_encode = hasher.encode
    monkeypatch.setattr(
        hasher, "encode", lambda self, *a, **k: encoded.append(1) or real_encode(self, *a, **k)
    )
    challenges.issue_code(utility, RESET, "member@example.jp")
    real = len(encoded)
    challenges.issue_code(utility, RESET, "unknown@example.jp", answerable=False)
    assert len(encoded) - real == real == 1

"""会員情報 → メールの受け取り: which mails a member receives; account mails always go."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from pytest_django.asserts import assertContains, assertRedirects

from billing import notices
from billing.models import Notice
from portal.models import OutboxMail
from tests.accounts.test_profile import actions, change_password, url
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def choose(client, utility, **choices):
    data = {field: "on" for field, wanted in choices.items() if wanted}
    return client.post(url(utility, "profile_mail"), data)


def test_the_page_shows_the_utilitys_defaults_until_the_member_chooses(logged_in_client, user):
    utility = user.utility
    utility.mail_alerts_default = False
    utility.save()
    page = logged_in_client.get(url(utility, "profile"))
    assertContains(page, "メールの受け取り")
    assertContains(page, "<dt>使用量の異常のお知らせ</dt><dd>受け取らない</dd>", html=True)
    form = logged_in_client.get(url(utility, "profile_mail")).context["form"]
    assert form["wants_bill_mail"].value() is True
    assert form["wants_alert_mail"].value() is False


def test_a_choice_is_kept_recorded_and_shown(logged_in_client, user):
    utility = user.utility
    response = choose(
        logged_in_client,
        utility,
        wants_bill_mail=False,
        wants_alert_mail=True,
        wants_notice_mail=False,
    )
    assertRedirects(response, url(utility, "profile"))
    user.refresh_from_db()
    assert (user.wants_bill_mail, user.wants_alert_mail, user.wants_notice_mail) == (
        False,
        True,
        False,
    )
    assert actions(user) == ["mail_choices_changed"]
    page = logged_in_client.get(url(utility, "profile"))
    assertContains(page, "<dt>ご使用量・料金のお知らせ</dt><dd>受け取らない</dd>", html=True)
    # A later change of the utility's default does not undo the member's own choice.
    utility.mail_alerts_default = False
    utility.save()
    user.refresh_from_db()
    assert user.wants_mail("alert") is True


def test_account_mails_go_whatever_the_member_chose(logged_in_client, user, mailoutbox):
    choose(logged_in_client, user.utility)  # nothing ticked
    change_password(logged_in_client, user.utility)
    assert mailoutbox[-1].subject.endswith("パスワード変更のお知らせ")


def test_an_important_notice_is_not_mailed_to_a_member_who_said_no(user):
    utility = user.utility
    declined = MemberFactory(utility=utility, wants_notice_mail=False)
    user.wants_notice_mail = None
    user.save()
    notice = Notice.objects.create(
        utility=utility,
        title="断水",
        body="本文",
        important=True,
        mail_members=True,
        publish_at=timezone.now() - datetime.timedelta(minutes=1),
    )
    notices.mail_batch(notice.pk)
    recipients = set(OutboxMail.objects.values_list("recipient", flat=True))
    assert recipients == {user.email}
    assert declined.email not in recipients


def test_staff_read_the_choice_as_japanese_sentences_not_field_names(logged_in_client, user):
    from accounts.history import describe

    choose(logged_in_client, user.utility, wants_bill_mail=False, wants_alert_mail=True)
    event = user.events.get(action="mail_choices_changed")
    assert describe(event) == (
        "受け取るメールを変更(ご使用量・料金のお知らせ: 受け取らない、重要なお知らせ: 受け取らない)"
    )

"""お知らせ: who sees a notice, when, how it reads, and the mail an important one sends."""

from __future__ import annotations

import datetime
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from billing import notices, tasks
from billing.models import Notice, NoticeRead
from portal.models import OutboxMail
from tests.factories import (
    ContractLinkFactory,
    CustomerFactory,
    MemberFactory,
    StaffFactory,
    UtilityFactory,
)

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime.datetime(2026, 12, 6, 10, 0, tzinfo=JST)


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def make_notice(utility, **fields) -> Notice:
    defaults = {
        "title": "お知らせの件名",
        "body": "本文です。",
        "publish_at": NOW - datetime.timedelta(days=1),
    }
    return Notice.objects.create(utility=utility, **{**defaults, **fields})


def dashboard(client, utility):
    return client.get(reverse("billing:dashboard", args=[utility.slug]))


def notice_list(client, utility):
    return client.get(reverse("billing:notice_list", args=[utility.slug]))


def open_notice(client, notice):
    return client.get(reverse("billing:notice", args=[notice.utility.slug, notice.pk]))


# What a member sees ------------------------------------------------------------------------


def test_a_member_sees_a_notice_unread_until_opened(frozen, logged_in_client, utility):
    notice = make_notice(utility, title="断水のお知らせ", category=Notice.Category.OUTAGE)
    response = dashboard(logged_in_client, utility)  # the page is now in the cache
    assertContains(response, "断水のお知らせ")
    assertContains(response, "未読")
    assertContains(response, "(未読 1件)")
    response = open_notice(logged_in_client, notice)
    assertContains(response, "<h1>断水のお知らせ</h1>", html=True)
    assertContains(response, "断水")
    assert NoticeRead.objects.filter(notice=notice).count() == 1
    # The cached dashboard and the list drop the mark at once.
    assertNotContains(dashboard(logged_in_client, utility), "未読")
    response = notice_list(logged_in_client, utility)
    assertContains(response, "断水のお知らせ")
    assertNotContains(response, "未読")


def test_a_notice_published_after_the_page_was_cached_shows_at_once(
    frozen, logged_in_client, utility
):
    assertNotContains(dashboard(logged_in_client, utility), "新しいお知らせ")
    make_notice(utility, title="新しいお知らせ")
    assertContains(dashboard(logged_in_client, utility), "新しいお知らせ")


def test_important_notices_come_first_then_the_newest(frozen, logged_in_client, utility):
    make_notice(utility, title="古い通常", publish_at=NOW - datetime.timedelta(days=3))
    make_notice(utility, title="新しい通常", publish_at=NOW - datetime.timedelta(days=1))
    make_notice(
        utility, title="古い重要", important=True, publish_at=NOW - datetime.timedelta(days=5)
    )
    body = notice_list(logged_in_client, utility).content.decode()
    assert body.index("古い重要") < body.index("新しい通常") < body.index("古い通常")


def test_the_dashboard_shows_five_and_links_to_the_rest(frozen, logged_in_client, utility):
    for day in range(7):
        make_notice(
            utility, title=f"お知らせ{day}番", publish_at=NOW - datetime.timedelta(days=day)
        )
    response = dashboard(logged_in_client, utility)
    assert response.content.decode().count('class="notice-list__item') == 5
    assertContains(response, reverse("billing:notice_list", args=[utility.slug]))
    assertContains(notice_list(logged_in_client, utility), "お知らせ6番")


def test_unpublished_and_expired_notices_are_hidden(frozen, logged_in_client, utility, user):
    later = make_notice(
        utility, title="来週のお知らせ", publish_at=NOW + datetime.timedelta(days=7)
    )
    ended = make_notice(
        utility, title="終わったお知らせ", expire_at=NOW - datetime.timedelta(hours=1)
    )
    response = notice_list(logged_in_client, utility)
    assertNotContains(response, "来週のお知らせ")
    assertNotContains(response, "終わったお知らせ")
    assertContains(response, "現在、お知らせはありません。")
    assert open_notice(logged_in_client, later).status_code == HTTPStatus.NOT_FOUND
    assert open_notice(logged_in_client, ended).status_code == HTTPStatus.NOT_FOUND
    frozen.move_to(NOW + datetime.timedelta(days=8))
    logged_in_client.logout()  # a week later: a new visit
    logged_in_client.force_login(user)
    assertContains(notice_list(logged_in_client, utility), "来週のお知らせ")


def test_a_member_never_sees_a_notice_aimed_elsewhere_or_of_another_utility(
    frozen, client, utility
):
    here = MemberFactory(utility=utility)
    ContractLinkFactory(member=here, customer__address="見本市本町1丁目1-1", customer__number="1")
    CustomerFactory(utility=utility, address="見本市港町2丁目3", number="2")
    other_city = UtilityFactory()
    mine = [
        make_notice(utility, title="全域向け"),
        make_notice(
            utility,
            title="本町向け",
            audience=Notice.Audience.AREAS,
            area_prefixes="見本市港町\n見本市本町",
        ),
        make_notice(
            utility, title="番号向け", audience=Notice.Audience.CUSTOMERS, customer_numbers="1"
        ),
    ]
    elsewhere = [
        make_notice(
            utility, title="港町向け", audience=Notice.Audience.AREAS, area_prefixes="見本市港町"
        ),
        make_notice(
            utility, title="他の番号向け", audience=Notice.Audience.CUSTOMERS, customer_numbers="2"
        ),
        make_notice(other_city, title="他の事業者の全域向け"),
    ]
    client.force_login(here)
    response = notice_list(client, utility)
    for notice in mine:
        assertContains(response, notice.title)
        assert open_notice(client, notice).status_code == HTTPStatus.OK
    for notice in elsewhere:
        assertNotContains(response, notice.title)
        url = reverse("billing:notice", args=[utility.slug, notice.pk])
        assert client.get(url).status_code == HTTPStatus.NOT_FOUND
    assert not NoticeRead.objects.filter(notice__in=elsewhere).exists()


def test_the_cached_dashboard_follows_the_clock_without_any_save(frozen, logged_in_client, utility):
    # Notices are cached per utility (billing/notices.py): publish and end times are read
    # against the clock as each page is served, not when the entry was built.
    make_notice(utility, title="5分後から掲載", publish_at=NOW + datetime.timedelta(minutes=5))
    make_notice(utility, title="5分後まで掲載", expire_at=NOW + datetime.timedelta(minutes=5))
    response = dashboard(logged_in_client, utility)
    assertNotContains(response, "5分後から掲載")
    assertContains(response, "5分後まで掲載")
    frozen.move_to(NOW + datetime.timedelta(minutes=5, seconds=1))
    response = dashboard(logged_in_client, utility)
    assertContains(response, "5分後から掲載")
    assertNotContains(response, "5分後まで掲載")
    assertNotContains(notice_list(logged_in_client, utility), "5分後まで掲載")


def test_an_edited_or_deleted_notice_shows_so_on_the_cached_dashboard(
    frozen, logged_in_client, utility
):
    notice = make_notice(utility, title="古い件名")
    assertContains(dashboard(logged_in_client, utility), "古い件名")
    notice.title = "新しい件名"
    notice.category = Notice.Category.WORKS
    notice.save()
    response = dashboard(logged_in_client, utility)
    assertContains(response, "新しい件名")
    assertContains(response, '<span class="tag">工事</span>', html=True)
    assertNotContains(response, "古い件名")
    notice.delete()
    assertNotContains(dashboard(logged_in_client, utility), "新しい件名")


def test_a_member_given_a_contract_in_a_notices_area_sees_it_at_once(frozen, client, utility):
    member = MemberFactory(utility=utility)
    ContractLinkFactory(member=member, customer__address="見本市本町1丁目1-1")
    make_notice(
        utility, title="港町の断水", audience=Notice.Audience.AREAS, area_prefixes="見本市港町"
    )
    client.force_login(member)
    assertNotContains(dashboard(client, utility), "港町の断水")
    ContractLinkFactory(member=member, customer__address="見本市港町2丁目3")
    assertContains(dashboard(client, utility), "港町の断水")


def test_a_notice_read_by_one_member_stays_unread_for_another(frozen, client, utility):
    first, second = MemberFactory(utility=utility), MemberFactory(utility=utility)
    notice = make_notice(utility, title="全域のお知らせ")
    for member in (first, second):
        client.force_login(member)
        assertContains(dashboard(client, utility), "(未読 1件)")
    client.force_login(first)
    open_notice(client, notice)
    assertNotContains(dashboard(client, utility), "未読")
    client.force_login(second)
    assertContains(dashboard(client, utility), "(未読 1件)")


def test_script_in_a_body_is_shown_as_text_with_its_line_breaks(frozen, logged_in_client, utility):
    notice = make_notice(
        utility,
        title="<b>件名</b>",
        body='1行目<script>alert("x")</script>\n2行目 <a href="https://evil.example">リンク</a>',
    )
    response = open_notice(logged_in_client, notice)
    body = response.content.decode()
    assert "<script>alert" not in body
    assert '<a href="https://evil.example">' not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;<br>2行目" in body
    assert "&lt;b&gt;件名&lt;/b&gt;" in body
    assert "<script>alert" not in dashboard(logged_in_client, utility).content.decode()


def test_guests_see_public_notices_on_the_login_page(frozen, client, utility):
    make_notice(
        utility, title="メンテナンスのお知らせ", public=True, body="午前2時から\n停止します"
    )
    make_notice(utility, title="会員だけのお知らせ")
    make_notice(utility, title="終わった公開", public=True, expire_at=NOW - datetime.timedelta(1))
    make_notice(UtilityFactory(), title="他の事業者の公開", public=True)
    response = client.get(reverse("accounts:login", args=[utility.slug]))
    assertContains(response, "メンテナンスのお知らせ")
    assertContains(response, "午前2時から<br>停止します")
    for hidden in ["会員だけのお知らせ", "終わった公開", "他の事業者の公開"]:
        assertNotContains(response, hidden)


def test_the_notices_page_is_for_members_only(client, utility):
    response = notice_list(client, utility)
    assert response.status_code == HTTPStatus.FOUND
    assert reverse("accounts:login", args=[utility.slug]) in response["Location"]


# Mail --------------------------------------------------------------------------------------


def residents(utility, count: int, **customer) -> list:
    members = []
    for _ in range(count):
        member = MemberFactory(utility=utility)
        ContractLinkFactory(member=member, **{f"customer__{k}": v for k, v in customer.items()})
        members.append(member)
    return members


def test_an_important_notice_is_mailed_once_to_each_member_it_reaches(
    frozen, utility, settings, mailoutbox
):
    settings.PORTAL_NOTICE_MAIL_BATCH = 2  # five members: three batches
    reached = residents(utility, 5, address="見本市本町3-1")
    not_reached = residents(utility, 2, address="見本市港町1-1")
    MemberFactory(utility=utility, status="pending")
    notice = make_notice(
        utility,
        title="断水します",
        important=True,
        mail_members=True,
        audience=Notice.Audience.AREAS,
        area_prefixes="見本市本町",
    )
    tasks.mail_notice(notice.pk)
    assert sorted(m.to[0] for m in mailoutbox) == sorted(m.email for m in reached)
    assert all("断水します" in m.subject and "【重要なお知らせ】" in m.subject for m in mailoutbox)
    assert "本文です。" in mailoutbox[0].body
    keys = set(OutboxMail.objects.values_list("key", flat=True))
    assert keys == {f"notice:{notice.pk}:{m.pk}" for m in reached}
    assert not {m.email for m in not_reached} & {m.to[0] for m in mailoutbox}
    notice.refresh_from_db()
    assert notice.mailed_at is not None


def test_the_task_run_twice_mails_each_member_once(frozen, utility, mailoutbox):
    reached = residents(utility, 3)
    notice = make_notice(utility, important=True, mail_members=True)
    tasks.mail_notice(notice.pk)
    # As if a worker died after writing the mails but before the notice recorded it.
    Notice.objects.filter(pk=notice.pk).update(mailed_at=None, mail_cursor=0)
    tasks.mail_notice(notice.pk)
    tasks.mail_notice(notice.pk)
    assert len(mailoutbox) == len(reached) == OutboxMail.objects.count()


def test_a_notice_mails_when_its_publish_time_comes(frozen, utility, mailoutbox, settings):
    settings.PORTAL_BASE_URL = "https://portal.example.jp"
    residents(utility, 2)
    notice = make_notice(
        utility, important=True, mail_members=True, publish_at=NOW + datetime.timedelta(hours=2)
    )
    assert tasks.mail_due_notices() == 0
    assert not mailoutbox
    frozen.move_to(NOW + datetime.timedelta(hours=2))
    assert tasks.mail_due_notices() == 1
    assert len(mailoutbox) == 2
    url = f"https://portal.example.jp/{utility.slug}/notices/{notice.pk}/"
    assert url in mailoutbox[0].body
    assert tasks.mail_due_notices() == 0


def test_expired_or_unimportant_notices_are_not_mailed(frozen, utility, mailoutbox):
    residents(utility, 2)
    plain = make_notice(utility, mail_members=True)
    ended = make_notice(
        utility, important=True, mail_members=True, expire_at=NOW - datetime.timedelta(1)
    )
    tasks.mail_notice(plain.pk)
    tasks.mail_notice(ended.pk)
    tasks.mail_due_notices()
    assert not mailoutbox


# Staff -----------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, utility):
    staff = StaffFactory(utility=utility)
    staff.user_permissions.set(
        Permission.objects.filter(content_type__app_label="billing", codename__endswith="notice")
    )
    client.force_login(staff)
    return client


def add_form(utility, **fields) -> dict:
    return {
        "utility": utility.pk,
        "title": "工事のお知らせ",
        "category": "works",
        "body": "道路工事をします。",
        "publish_at_0": "2026-12-06",
        "publish_at_1": "09:00",
        "expire_at_0": "",
        "expire_at_1": "",
        "audience": "all",
        "area_prefixes": "",
        "customer_numbers": "",
        **fields,
    }


ADD = reverse("admin:billing_notice_add")


def test_staff_write_a_notice_for_their_own_utility(frozen, staff_client, utility):
    other = UtilityFactory()
    response = staff_client.post(ADD, add_form(utility))
    assert response.status_code == HTTPStatus.FOUND, response.content.decode()
    assert Notice.objects.get().utility == utility
    # Another utility cannot be chosen.
    response = staff_client.post(ADD, add_form(other, title="よその"))
    assert response.status_code == HTTPStatus.OK
    assert not Notice.objects.filter(title="よその").exists()


def test_staff_never_see_or_change_another_utilitys_notices(frozen, staff_client, utility):
    make_notice(utility, title="うちのお知らせ")
    theirs = make_notice(UtilityFactory(), title="よそのお知らせ")
    response = staff_client.get(reverse("admin:billing_notice_changelist"))
    assertContains(response, "うちのお知らせ")
    assertNotContains(response, "よそのお知らせ")
    change = reverse("admin:billing_notice_change", args=[theirs.pk])
    assert staff_client.get(change).status_code == HTTPStatus.FOUND  # "not found"
    staff_client.post(change, add_form(theirs.utility, title="書き換え"))
    theirs.refresh_from_db()
    assert theirs.title == "よそのお知らせ"


def test_an_area_that_matches_no_contract_is_refused_and_named(frozen, staff_client, utility):
    CustomerFactory(utility=utility, address="見本市本町1-1")
    CustomerFactory(utility=UtilityFactory(), address="見本市港町1-1")  # another utility's
    form = add_form(utility, audience="areas", area_prefixes="見本市本町\n見本市港町\n")
    response = staff_client.post(ADD, form)
    assert response.status_code == HTTPStatus.OK
    assertContains(response, "次の地域に当たる契約がありません: 「見本市港町」")
    assert not Notice.objects.exists()
    form["area_prefixes"] = "見本市本町\n"
    assert staff_client.post(ADD, form).status_code == HTTPStatus.FOUND
    assert Notice.objects.get().area_prefixes == "見本市本町"


def test_unknown_customer_numbers_are_named(frozen, staff_client, utility):
    CustomerFactory(utility=utility, number="10000000000001")
    CustomerFactory(utility=UtilityFactory(), number="10000000000002")
    form = add_form(
        utility,
        audience="customers",
        customer_numbers="１００００００００００００１\n10000000000002\n1000-0000-0000-09\n",
    )
    response = staff_client.post(ADD, form)
    assertContains(
        response, "次のポータル登録番号の契約がありません: 10000000000002、10000000000009"
    )
    assert not Notice.objects.exists()
    form["customer_numbers"] = "abc\n"
    assertContains(staff_client.post(ADD, form), "数字ではない行があります: 「abc」")
    form["customer_numbers"] = "１００００００００００００１"
    assert staff_client.post(ADD, form).status_code == HTTPStatus.FOUND
    assert Notice.objects.get().customer_numbers == "10000000000001"


def test_a_targeted_notice_needs_its_targets(frozen, staff_client, utility):
    response = staff_client.post(ADD, add_form(utility, audience="areas"))
    assertContains(response, "対象の地域を1行に1つ入力してください。")
    response = staff_client.post(ADD, add_form(utility, audience="customers"))
    assertContains(response, "対象のポータル登録番号を1行に1つ入力してください。")
    assert not Notice.objects.exists()


def test_only_an_important_notice_can_be_mailed(frozen, staff_client, utility):
    response = staff_client.post(ADD, add_form(utility, mail_members="on"))
    assertContains(response, "メールで送れるのは「重要」のお知らせだけです。")
    response = staff_client.post(
        ADD, add_form(utility, expire_at_0="2026-12-01", expire_at_1="09:00")
    )
    assertContains(response, "掲載終了日時は掲載開始日時より後にしてください。")
    assert not Notice.objects.exists()


def test_saving_a_published_important_notice_mails_its_members(
    frozen, staff_client, utility, mailoutbox
):
    members = residents(utility, 2)
    form = add_form(utility, important="on", mail_members="on")
    assert staff_client.post(ADD, form).status_code == HTTPStatus.FOUND
    assert sorted(m.to[0] for m in mailoutbox) == sorted(m.email for m in members)
    notice = Notice.objects.get()
    assert notice.mailed_at is not None
    # Saving it again (a typo fixed) sends nothing more.
    change = reverse("admin:billing_notice_change", args=[notice.pk])
    staff_client.post(change, {**form, "title": "工事のお知らせ(訂正)"})
    assert len(mailoutbox) == 2


def test_members_reached_counts_each_member_once(utility):
    member = MemberFactory(utility=utility)
    ContractLinkFactory(member=member, customer__address="見本市本町1-1")
    ContractLinkFactory(member=member, customer__address="見本市本町2-2")
    notice = make_notice(utility, audience=Notice.Audience.AREAS, area_prefixes="見本市本町")
    assert list(notices.members_reached(notice)) == [member]
    assert len(mail.outbox) == 0


def test_another_utilitys_notices_page_shows_a_member_nothing(frozen, logged_in_client):
    other_city = UtilityFactory()
    notice = make_notice(other_city, title="他の事業者の全域向け", public=False)
    response = notice_list(logged_in_client, other_city)
    assertNotContains(response, "他の事業者の全域向け", status_code=response.status_code)
    response = open_notice(logged_in_client, notice)
    assertNotContains(response, "他の事業者の全域向け", status_code=response.status_code)
    assert not NoticeRead.objects.exists()


# Found by the outside test of issue 19 --------------------------------------------------------


def test_a_double_click_on_save_makes_one_notice_and_one_mail_each(
    frozen, staff_client, utility, mailoutbox
):
    members = residents(utility, 2)
    page = staff_client.get(ADD)
    token = page.context["adminform"].form["add_token"].value()
    assert token
    form = add_form(utility, important="on", mail_members="on", add_token=token)
    first = staff_client.post(ADD, form)
    assert first.status_code == HTTPStatus.FOUND
    second = staff_client.post(ADD, form, follow=True)
    notice = Notice.objects.get()
    assertContains(second, "このお知らせはすでに保存されています。")
    assert second.redirect_chain[-1][0] == reverse("admin:billing_notice_change", args=[notice.pk])
    assert sorted(m.to[0] for m in mailoutbox) == sorted(m.email for m in members)
    # A new add page gives a new token: the next notice is saved.
    token = staff_client.get(ADD).context["adminform"].form["add_token"].value()
    staff_client.post(ADD, add_form(utility, title="次のお知らせ", add_token=token))
    assert Notice.objects.count() == 2


def test_a_mailed_notice_already_ended_is_refused_beside_the_field(frozen, staff_client, utility):
    form = add_form(
        utility,
        important="on",
        mail_members="on",
        publish_at_0="2026-12-01",
        expire_at_0="2026-12-05",
        expire_at_1="09:00",
    )
    response = staff_client.post(ADD, form)
    assertContains(response, "掲載終了日時が過ぎているため、メールは送れません。")
    assert not Notice.objects.exists()
    # One saved before this check says in the list that it is not mailed.
    make_notice(
        utility, important=True, mail_members=True, expire_at=NOW - datetime.timedelta(days=1)
    )
    response = staff_client.get(reverse("admin:billing_notice_changelist"))
    assertContains(response, "送信しません(掲載終了済み)")
    assertNotContains(response, "掲載開始後に送信")


def test_staff_read_their_utilitys_word_for_the_number_in_the_form(staff_client, utility):
    body = staff_client.get(ADD).content.decode()
    assert "ポータル登録番号の一覧で指定" in body
    assert "対象が「ポータル登録番号の一覧」のとき" in body
    assert "お客様番号" not in body


def test_two_numbers_on_one_line_are_told_with_the_line(frozen, staff_client, utility):
    CustomerFactory(utility=utility, number="10000000000002")
    CustomerFactory(utility=utility, number="10000000000003")
    numbers = "10000000000002\n\n10000000000002 10000000000003\n"
    response = staff_client.post(
        ADD, add_form(utility, audience="customers", customer_numbers=numbers)
    )
    assertContains(response, "3行目: 1行に1つの番号を入力してください")
    assertNotContains(response, "1000000000000210000000000003")
    assert not Notice.objects.exists()


def test_the_login_page_folds_at_most_three_notices(frozen, client, utility):
    for day in range(4):
        make_notice(
            utility,
            title=f"公開{day}",
            public=True,
            body=f"本文{day}",
            publish_at=NOW - datetime.timedelta(days=day + 1),
        )
    make_notice(
        utility,
        title="古い重要",
        public=True,
        important=True,
        publish_at=NOW - datetime.timedelta(9),
    )
    response = client.get(reverse("accounts:login", args=[utility.slug]))
    body = response.content.decode()
    assert body.count("<details") == 3
    assert body.index("古い重要") < body.index("公開0") < body.index("公開1")
    assert "公開2" not in body and "公開3" not in body
    assertContains(response, "<summary", count=3)
    # The form comes after: a fold is one line each.
    assert body.index("古い重要") < body.index('name="password"')

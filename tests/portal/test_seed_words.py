"""The guides' own words on the screens a resident holding the guide sees (issue 15).

The utilities come from fixtures/utilities.json, so the seed cities' own settings (the
slip's term, the contact block) are checked too, not only the templates.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from portal.models import Utility
from tests.factories import CustomerFactory, MemberFactory
from tests.helpers import (
    ask_for_link,
    last_signup_link,
    reach_code_details,
    sign_up,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _daytime(time_machine):
    """10:00 in Japan: inside Kanazawa's hours (07:00〜02:00)."""
    import datetime
    from zoneinfo import ZoneInfo

    time_machine.move_to(datetime.datetime(2026, 4, 1, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo")))


@pytest.fixture
def kanazawa(db):
    call_command("loaddata", "utilities", verbosity=0)
    return Utility.objects.get(slug="kanazawa")


@pytest.fixture
def nayoro(kanazawa):
    return Utility.objects.get(slug="nayoro")


def url(utility, name: str) -> str:
    return reverse(f"accounts:{name}", args=[utility.slug])


def test_kanazawa_step_four_says_the_guides_sentence_with_the_step_it_names(kanazawa, mailoutbox):
    browser = Client()
    assertContains(browser.get(url(kanazawa, "signup")), "会員登録 ③")
    sent = browser.get(ask_for_link(browser, kanazawa)["Location"])
    assertContains(sent, "会員登録 ④")
    assertContains(
        sent,
        "なお、金沢市企業局から送られる電子メールの語尾 (@ep-r.jp) の受信を許可されていない場合は、"
        "メールが届きませんので、受信許可の設定をされた後、再度③の登録をしてください。",
    )


def test_kanazawa_step_six_has_the_guides_hint_group_and_notes(kanazawa, mailoutbox):
    browser = Client()
    ask_for_link(browser, kanazawa)
    page = browser.get(last_signup_link(mailoutbox), follow=True)
    for words in [
        "会員登録 ⑥",
        "・検針票等に記載のポータルサイト用お客様番号をご確認いただき、入力してください。",
        '<legend>秘密の質問と回答 <span class="field__note">(ログインIDまたはパスワードを忘れた場合に、お尋ねします)</span>',
        '<label for="id_secret_question">質問</label>',
        '<label for="id_secret_answer">回答</label>',
        # The guide's own words: 「ポータルサイト」, as its ① defines it, not the full name.
        "※ログインIDやパスワードはポータルサイトをご使用する際、必要となります。",
        "※秘密の回答は、ログインIDやパスワードを忘れた場合、必要となります。",
    ]:
        assertContains(page, words, html=False)


def test_kanazawa_step_seven_has_the_login_heading_and_the_hints(kanazawa, mailoutbox):
    from tests.helpers import details_for

    contract = CustomerFactory(utility=kanazawa, number="10000000000099", phone="0762202111")
    browser = Client()
    ask_for_link(browser, kanazawa)
    browser.get(last_signup_link(mailoutbox))
    page = browser.post(url(kanazawa, "signup_confirm"), details_for(contract))
    for words in [
        "会員登録 ⑦",
        "<h2>ログイン情報の入力</h2>",
        "ご希望のログインID (半角英数6〜16文字 ※記号以外)",
        "・ご希望のログインIDを既に他のお客さまが使用されている場合は登録できません。",
        "秘密の質問と回答 (ログインIDまたはパスワードを忘れた場合に、お尋ねします)",
        "上記内容でよろしければ、「本会員申請する」ボタンをクリックしてください。",
    ]:
        assertContains(page, words, html=False)


def test_nayoro_step_two_lists_the_password_rule_as_the_guide_does(nayoro, mailoutbox):
    browser = Client()
    reach_code_details(browser, nayoro, mailoutbox)
    page = browser.get(url(nayoro, "signup_details"))
    # The guide's step text: its sentence and its list ①〜④ (issue 15), not the screenshot's
    # 「● …のすべてを含む」 lines.
    for words in [
        "パスワードは必ず以下の4種類を含めたものとしてください。",
        "①半角英数字8文字以上",
        "②アルファベット大文字",
        "③アルファベット小文字",
        "④記号(例:!?#$&amp;()-_)",
        "※使用可能な記号は例示のものに限ります",
        "お名前(ニックネームでも登録いただけます)",
    ]:
        assertContains(page, words, html=False)
    assertNotContains(page, "のすべてを含む")


@pytest.mark.parametrize(
    ("slug", "label", "digits"),
    [("kanazawa", "ポータル登録番号", 14), ("nayoro", "お客様番号", 11)],
)
def test_the_guide_page_says_how_many_digits(kanazawa, slug, label, digits):
    page = Client().get(reverse("portal:guide", args=[slug]))
    assertContains(page, f"{label}({digits}桁)が必要となります。")


def test_every_seed_citys_contact_block_gives_a_phone_number_hours_and_the_extensions(
    kanazawa, nayoro
):
    for utility in (kanazawa, nayoro):
        utility.full_clean()
    assert "受付 平日" in kanazawa.contact_block and "076-220-2111" in kanazawa.contact_block
    assert "内線3361〜3363" in nayoro.contact_block and "内線2208〜2209" in nayoro.contact_block
    assert "01654-3-2111" in nayoro.contact_block


def test_a_contact_block_without_a_phone_number_is_refused(kanazawa):
    kanazawa.contact_block = (
        "金沢市企業局お客さまサービス課料金センター\n石川県金沢市広岡3丁目3番30号"
    )
    with pytest.raises(ValidationError) as refusal:
        kanazawa.full_clean()
    assert "電話番号" in str(refusal.value)


def test_the_dashboard_word_for_the_number_is_the_utilitys(kanazawa, client):
    from tests.factories import ContractLinkFactory

    member = MemberFactory(utility=kanazawa)
    ContractLinkFactory(member=member)
    client.force_login(member)
    page = client.get(reverse("billing:dashboard", args=["kanazawa"]))
    assertContains(page, "<dt>ポータル登録番号</dt>", html=False)
    assert "お客様番号" not in page.content.decode().split("<main", 1)[1].split("</main>")[0]


def _main(page) -> str:
    """The page's own content, without the header and the footer's contact block."""
    return page.content.decode().split("<main", 1)[1].split("</main>", 1)[0]


@pytest.mark.parametrize(
    ("slug", "phone", "hours", "address"),
    [
        ("kanazawa", "076-220-2111", "受付 平日 8:30〜17:45", "石川県金沢市広岡3丁目3番30号"),
        ("nayoro", "01654-3-2111", "受付 平日 8:45〜17:15", "北海道名寄市大通南1丁目1番地"),
    ],
)
def test_the_offices_page_gives_the_number_to_call_the_hours_and_the_address(
    kanazawa, slug, phone, hours, address
):
    page = Client().get(reverse("portal:offices", args=[slug]))
    main = _main(page)
    for words in (phone, hours, address):
        assert words in main, f"{words} not on お客さま窓口一覧 of {slug}"


def test_the_offices_page_adds_the_utilitys_office_notes_to_its_contact_block(kanazawa):
    page = Client().get(reverse("portal:offices", args=["kanazawa"]))
    main = _main(page)
    assert "上下水道の引越し等の手続き、料金のお支払いに関するご相談を承ります。" in main
    assert main.count("076-220-2111") == 1


def test_kanazawa_step_six_is_styled_and_says_required_once_for_the_secret_group(
    kanazawa, mailoutbox
):
    browser = Client()
    ask_for_link(browser, kanazawa)
    page = browser.get(last_signup_link(mailoutbox), follow=True)
    assertContains(page, "css/accounts.css")  # the group's border and bold legend live there
    group = page.content.decode().split('<fieldset class="field-group">', 1)[1]
    group = group.split("</fieldset>", 1)[0]
    assert group.count('class="required"') == 1, group
    assert group.split("</legend>", 1)[0].count('class="required"') == 1


def test_nayoros_consents_say_required_once_each(nayoro, mailoutbox):
    browser = Client()
    reach_code_details(browser, nayoro, mailoutbox)
    page = browser.get(url(nayoro, "signup_details")).content.decode()
    groups = [g.split("</fieldset>", 1)[0] for g in page.split('<fieldset class="consent">')[1:]]
    assert len(groups) == 2
    for group in groups:
        assert group.count('class="required"') == 1, group


def test_kanazawa_step_eight_says_the_guides_sentences_with_the_portals_own_name(
    kanazawa, mailoutbox
):
    """The guide's ⑧ screen says 「金沢市上下水道料金ポータルサイト」 once, a slip: its own mail for
    the same sentence, its title and every screen say 「金沢市上下水道ポータルサイト」."""
    browser = Client()
    contract = CustomerFactory(utility=kanazawa, number="10000000000099", phone="0762202111")
    sign_up(browser, kanazawa, mailoutbox, contract)
    page = browser.get(url(kanazawa, "signup_done"))
    for words in [
        "会員登録 ⑧ ・ 自動応答メッセージ",
        "会員登録が完了しました。",
        "後日お送りする「ご使用量等の確認についてのご案内」メールご到着後、ご登録いただいたID、"
        "パスワードで金沢市上下水道ポータルサイトにログインいただき、ご使用量等を確認してください。",
        "なお、ご案内メールをお送りするまでには、数日（受付が混み合っている場合は10日程度）"
        "お時間をいただきます。",
        "また、金沢市企業局から電話等でご登録内容を確認させていただく場合がありますので、"
        "ご了承ください。",
        "← 金沢市上下水道ポータルサイトのトップページへ",
    ]:
        assertContains(page, words, html=False)
    assert "料金ポータルサイト" not in page.content.decode()


def test_nayoro_step_two_hints_name_the_office_as_the_guide_does(nayoro, mailoutbox):
    browser = Client()
    reach_code_details(browser, nayoro, mailoutbox)
    page = browser.get(url(nayoro, "signup_details"))
    for words in [
        "上下水道室に届け出た電話番号の入力となりますので注意してください。"
        "また、ハイフンを除いた数字で入力してください。",
        "上下水道室に届け出た契約者名をカタカナで入力してください。",
    ]:
        assertContains(page, words, html=False)
    assert "名寄市上下水道室に届け出た" not in page.content.decode()


def _guide_steps(slug: str) -> list[str]:
    page = Client().get(reverse("portal:guide", args=[slug])).content.decode()
    steps = page.split('<ol class="guide__steps">', 1)[1].split("</ol>", 1)[0]
    return [step.split("</li>", 1)[0] for step in steps.split("<li>")[1:]]


def test_kanazawas_guide_page_numbers_its_steps_and_words_them_as_the_printed_guide(kanazawa):
    steps = _guide_steps("kanazawa")
    assert [step[: step.index("</span>") + len("</span>")] for step in steps] == [
        f'<span class="guide__number">{n}</span>' for n in "①②③④⑤⑥⑦⑧"
    ]
    assert (
        "金沢市上下水道ポータルサイト（以下「ポータルサイト」といいます。）のログイン画面を開いてください。"
        in steps[0]
    )
    assert "ポータルサイトログイン画面の「会員登録する」ボタンをクリックしてください。" in steps[1]
    assert (
        "メール送信完了画面が表示されます。登録されたメールアドレスにメールが届くのを待ってください。"
        "なお、金沢市企業局から送られる電子メールの語尾 (@ep-r.jp) の受信を許可されていない場合は、"
        "メールが届きませんので、受信許可の設定をされた後、再度③の登録をしてください。"
    ) in steps[3]
    assert "本会員登録用画面で必要情報を登録してください。" in steps[5]
    assert (
        "登録内容を確認後、間違いがなければ「本会員申請する」をクリックしてください。" in steps[6]
    )
    assert "登録完了画面が表示されます。その後、会員登録完了のメールが送られてきます。" in steps[7]


def test_nayoros_guide_page_numbers_its_steps_and_words_them_as_the_printed_guide(kanazawa):
    steps = _guide_steps("nayoro")
    assert [step[: step.index("</span>") + len("</span>")] for step in steps] == [
        f'<span class="guide__number">{n}</span>' for n in "①②③④⑤⑥⑦⑧⑨"
    ]
    for number, words in [
        (0, "「初めての方はこちら」をタップします。"),
        (1, "メールアドレスを入力します。「認証コードの送信」ボタンを押します。"),
        (1, "※認証コードの有効時間は30分です。"),
        (2, "入力したメールアドレス宛にメールが届きます。記載された認証コードをコピーします。"),
        (3, "メールに記載された認証コードを入力し、「次へ」ボタンを押します。"),
        (4, "認証が完了すると会員情報の入力画面へ遷移します。ここで必要事項を記入していきます。"),
        (5, "入力が完了しましたら、「確認」ボタンを押してください。"),
        (
            6,
            "入力情報確認画面へ遷移します。入力内容に誤りがなければ、「登録」ボタンを押してください。",
        ),
        (7, "会員登録完了画面が表示されましたら、登録は完了です。"),
        (8, "登録に使用したメールアドレスとパスワードでログインすることができます。"),
    ]:
        assert words in steps[number], (number, steps[number])


def test_the_completion_mail_subject_is_each_guides(kanazawa, nayoro, mailoutbox):
    """Kanazawa's guide shows 「★【金沢市上下水道ポータルサイト】会員登録が完了しました」; Nayoro's
    shows no such mail, so its subject carries no ★ of Kanazawa's."""
    from accounts.emails import send_signup_complete

    for utility in (kanazawa, nayoro):
        send_signup_complete(MemberFactory(utility=utility))
    assert [mail.subject for mail in mailoutbox] == [
        "★【金沢市上下水道ポータルサイト】会員登録が完了しました",
        "【名寄市上下水道ポータル】会員登録が完了しました",
    ]


def test_nayoro_recovery_names_the_sender_address_as_its_signup_and_guide_do(nayoro):
    """Seed 003 ②: 「noreply@mercurieportaltest.netからのメールが受信できることをご確認ください。」
    The recovery page said only 「@mercurieportaltest.net からのメール…」."""
    page = Client().get(reverse("accounts:recovery", args=[nayoro.slug]))
    assertContains(
        page, "noreply@mercurieportaltest.netからのメールが受信できることをご確認ください。"
    )
    signup = Client().get(reverse("accounts:signup", args=[nayoro.slug]))
    assertContains(
        signup, "noreply@mercurieportaltest.netからのメールが受信できることをご確認ください。"
    )

"""The tenant core: one Utility row per water utility, holding its rules, hours and texts."""

from __future__ import annotations

import datetime
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from . import furigana

# A Japanese phone number as people write it: 076-220-2111, 01654-3-2111, 0120-123-456.
_PHONE_IN_TEXT = re.compile(r"0\d{1,4}[-(－（]\d{1,4}[-)－）]\d{3,4}")


def validate_contact_block(text: str) -> None:
    """A contact block that tells residents to call must give a number to call."""
    if not _PHONE_IN_TEXT.search(text or ""):
        raise ValidationError(
            _("電話番号(例: 076-220-2111)を、受付時間・住所とともに書いてください。"),
            code="contact_without_phone",
        )


_registration_number = RegexValidator(
    r"^T\d{13}$", _("「T」に続けて13桁の数字を入力してください。")
)


def registration_check_digit(base: str) -> int:
    """The 検査用数字 of a 法人番号 (the digits after 「T」 of a 登録番号) for its 12-digit base.

    平成26年財務省令第70号 第2条: 9 - (Σ Pn × Qn mod 9), Pn the n-th digit from the right,
    Qn 1 for odd n and 2 for even n.
    """
    total = sum(int(d) * (1 if n % 2 else 2) for n, d in enumerate(reversed(base), start=1))
    return 9 - total % 9


def validate_registration_check_digit(value: str) -> None:
    """A 登録番号 whose first digit is not the check digit of the other twelve was mistyped."""
    if re.fullmatch(r"T\d{13}", value or "") and int(value[1]) != registration_check_digit(
        value[2:]
    ):
        raise ValidationError(
            _(
                "登録番号の検査用数字(「T」の次の1桁)が合いません。"
                "国税庁の適格請求書発行事業者公表サイトで番号を確かめてください。"
            ),
            code="registration_check_digit",
        )


def language_codes(value: str) -> tuple[str, ...]:
    """「ja,en」 → ("ja", "en"): the known codes named, in settings.LANGUAGES' order, with
    LANGUAGE_CODE always among them."""
    named = {code.strip() for code in value.split(",")}
    return tuple(
        code
        for code, _name in settings.LANGUAGES
        if code in named or code == settings.LANGUAGE_CODE
    )


def validate_languages(value: str) -> None:
    known = {code for code, _name in settings.LANGUAGES}
    unknown = [c.strip() for c in value.split(",") if c.strip() and c.strip() not in known]
    if unknown:
        raise ValidationError(
            _("使えない言語コードです: %(codes)s(使えるもの: %(known)s)")
            % {"codes": "、".join(unknown), "known": ", ".join(sorted(known))}
        )


class Utility(models.Model):
    class Verification(models.TextChoices):
        LINK = "link", _("メール記載のURL")
        CODE = "code", _("6桁の認証コード")

    class LoginIdentifier(models.TextChoices):
        LOGIN_ID = "login_id", _("ログインID")
        EMAIL = "email", _("メールアドレス")

    class Activation(models.TextChoices):
        STAFF = "staff", _("職員が確認して承認")
        AUTO = "auto", _("契約と一致すれば即時")

    class PasswordRule(models.TextChoices):
        STANDARD = "standard", _("8〜64文字(任意の文字)")
        LOWER_ALNUM = "lower_alnum", _("半角小文字英数混在8〜16文字(記号不可)")
        MIXED_SYMBOL = "mixed_symbol", _("半角8文字以上、大文字・小文字・数字・記号(!?#$&()-_)")

    slug = models.SlugField(_("スラッグ"), max_length=50, unique=True)
    name = models.CharField(_("事業者名"), max_length=100, help_text=_("例: 金沢市企業局"))
    portal_name = models.CharField(
        _("ポータル名"), max_length=100, help_text=_("例: 金沢市上下水道ポータルサイト")
    )
    short_name = models.CharField(_("略称"), max_length=40, help_text=_("例: 金沢市"))
    contact_block = models.TextField(
        _("お問い合わせ先"),
        help_text=_("メールの末尾や案内に載せる窓口名、電話番号、受付時間、住所"),
        validators=[validate_contact_block],
    )
    offices = models.TextField(_("お客さま窓口一覧"), blank=True)
    inquiry_email = models.EmailField(_("お問い合わせ用メールアドレス"), blank=True)
    faq = models.TextField(_("FAQ"), blank=True, help_text=_("「Q.」で始まる行が質問です"))
    sender_email = models.EmailField(_("送信元メールアドレス"))
    terms_text = models.TextField(_("利用規約"))
    privacy_text = models.TextField(_("個人情報の取り扱いについて"), blank=True)

    opens_at = models.TimeField(_("利用開始時刻"), default=datetime.time(0, 0))
    closes_at = models.TimeField(
        _("利用終了時刻"),
        default=datetime.time(0, 0),
        help_text=_("開始と同じなら終日。開始より早ければ翌日のその時刻まで。"),
    )

    verification = models.CharField(
        _("メール確認の方法"), max_length=10, choices=Verification, default=Verification.LINK
    )
    login_identifier = models.CharField(
        _("ログインに使うもの"),
        max_length=10,
        choices=LoginIdentifier,
        default=LoginIdentifier.LOGIN_ID,
    )
    activation = models.CharField(
        _("利用開始の方法"), max_length=10, choices=Activation, default=Activation.STAFF
    )
    offers_remember_id = models.BooleanField(_("「次回からIDの入力を省略」を表示"), default=True)
    customer_number_label = models.CharField(
        _("お客様番号の呼び名"), max_length=30, default="お客様番号"
    )
    customer_number_on_slip = models.CharField(
        _("検針票でのお客様番号の呼び名"),
        max_length=40,
        blank=True,
        help_text=_("例: ポータルサイト用お客様番号。空欄なら「お客様番号の呼び名」と同じです。"),
    )
    customer_number_digits = models.PositiveSmallIntegerField(
        _("お客様番号の桁数"), validators=[MinValueValidator(4), MaxValueValidator(20)]
    )
    password_rule = models.CharField(
        _("パスワードの条件"), max_length=20, choices=PasswordRule, default=PasswordRule.STANDARD
    )

    name_is_nickname = models.BooleanField(
        _("お名前はニックネーム(会員情報で変更できる)"),
        default=False,
        help_text=_("お知らせの文面等に使うお名前を、会員が自分で変更できるようにします。"),
    )
    asks_address = models.BooleanField(_("住所・建物名を尋ねる"), default=False)
    asks_secret_question = models.BooleanField(_("秘密の質問を尋ねる"), default=False)
    asks_tax_declaration = models.BooleanField(_("消費税申告の有無を尋ねる"), default=False)
    asks_referral = models.BooleanField(_("知ったきっかけを尋ねる"), default=False)
    asks_kana = models.BooleanField(_("お客様氏名カナを尋ねる"), default=False)
    asks_privacy_consent = models.BooleanField(
        _("個人情報の取り扱いへの同意を求める"), default=False
    )
    asks_relation = models.BooleanField(_("申込者と契約者の関係を尋ねる"), default=False)
    asks_payment_method = models.BooleanField(_("支払方法を尋ねる"), default=False)

    invoice_registration_number = models.CharField(
        _("適格請求書発行事業者登録番号"),
        max_length=14,
        blank=True,
        validators=[_registration_number, validate_registration_check_digit],
    )
    # Where sewerage is run by another body than the waterworks (Miyoshi), its 下水道使用料 is
    # that body's sale and its invoice carries that body's name and number.
    sewer_invoice_issuer = models.CharField(
        _("下水道使用料の適格請求書発行事業者名"),
        max_length=100,
        blank=True,
        help_text=_("下水道使用料を別の事業者が請求する場合に、その登録番号とともに入力します。"),
    )
    sewer_invoice_registration_number = models.CharField(
        _("下水道使用料の登録番号"),
        max_length=14,
        blank=True,
        validators=[_registration_number, validate_registration_check_digit],
        help_text=_(
            "下水道使用料の登録番号が水道料金と異なる場合に、発行事業者名とともに入力します(適格請求書に2つの番号を記載します)。空欄なら同じ番号です。"
        ),
    )
    signup_link_ttl_hours = models.PositiveSmallIntegerField(
        _("会員登録URLの有効時間(時間)"), default=24
    )
    code_ttl_minutes = models.PositiveSmallIntegerField(_("認証コードの有効時間(分)"), default=30)
    code_attempts = models.PositiveSmallIntegerField(
        _("認証コードを間違えられる回数"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text=_("この回数を間違えると、その認証コードは使えなくなります。"),
    )
    max_members_per_contract = models.PositiveSmallIntegerField(
        _("1契約あたりの会員数の上限"),
        default=4,
        validators=[MinValueValidator(1)],
        help_text=_(
            "ご家族などで1つの契約を見られる会員の数です。これを超える登録や契約の追加は、"
            "職員の確認を経てから利用できるようになります。"
        ),
    )
    signup_complete_subject = models.CharField(
        _("会員登録完了メールの件名"),
        max_length=200,
        blank=True,
        help_text=_(
            "案内に載せた件名があれば、そのとおりに(例: ★【金沢市上下水道ポータルサイト】"
            "会員登録が完了しました)。空欄なら「【ポータル名】会員登録が完了しました」です。"
        ),
    )
    mail_rate_per_minute = models.PositiveIntegerField(
        _("メール送信の上限(通/分)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "メールサーバーが1分あたりに受け付ける通数の上限。超えた分は送信待ちのまま次の分に"
            "送ります(失敗にはしません)。空欄なら上限なし。"
        ),
    )
    data_delay_note = models.CharField(
        _("データ反映の案内"),
        max_length=200,
        default=gettext_noop("使用量や料金の照会ができるのは1営業日後になります。"),
    )
    leak_ratio_percent = models.PositiveSmallIntegerField(
        _("漏水の目安(前年同期比 %)"), default=200
    )
    leak_min_increase_m3 = models.PositiveIntegerField(_("漏水の目安(増加量 m³)"), default=10)
    session_idle_minutes = models.PositiveSmallIntegerField(
        _("無操作でログアウトするまでの時間(分)"), default=30
    )
    billing_cycle_months = models.PositiveSmallIntegerField(
        _("検針・請求の間隔(か月)"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
        help_text=_(
            "毎月検針なら1、隔月検針なら2。取り込む使用期間の長さの上限になります"
            "(1か月31日として、この月数分に7日を加えた日数まで)。"
        ),
    )
    offers_web_slip = models.BooleanField(
        _("Web明細を受け付ける"),
        default=False,
        help_text=_("会員が契約ごとに紙の検針票を止められるようにします(Web明細)。"),
    )
    hold_bill_mail = models.BooleanField(
        _("検針後のお知らせメールを保留する(取り込みの既定)"),
        default=False,
        db_default=False,
        help_text=_(
            "取り込み画面の「お知らせメールを保留する」を最初からチェックしておきます。"
            "保留した検針のメールは、保留しない次の取り込みのときに送ります。"
        ),
    )
    mail_bill_ready_default = models.BooleanField(
        _("「今月のご使用量・料金のお知らせ」メールを受け取る(会員の既定)"),
        default=True,
        db_default=True,
    )
    mail_alerts_default = models.BooleanField(
        _("使用量の異常のお知らせメールを受け取る(会員の既定)"),
        default=True,
        db_default=True,
    )
    mail_notices_default = models.BooleanField(
        _("重要なお知らせをメールで受け取る(会員の既定)"),
        default=True,
        db_default=True,
    )
    web_slip_text = models.TextField(
        _("Web明細の説明"),
        blank=True,
        help_text=_("Web明細の画面に表示する短い説明(例: 紙の検針票が届かなくなる時期)。"),
    )
    languages = models.CharField(
        _("提供する言語"),
        max_length=100,
        default="ja",
        validators=[validate_languages],
        help_text=_(
            "住民の画面とメールの言語(日本語は必ず含みます)。"
            "ここにない言語を選んだ方には日本語で表示します。"
        ),
    )

    class Meta:
        verbose_name = _("事業者")
        verbose_name_plural = _("事業者")
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.portal_name

    def save(self, *args, **kwargs) -> None:
        """Save; a 「メール送信の上限(通/分)」 raised or cleared sends the mails it held at once."""
        old_rate = None
        if self.pk is not None:
            old_rate = (
                type(self)
                .objects.filter(pk=self.pk)
                .values_list("mail_rate_per_minute", flat=True)
                .first()
            )
        super().save(*args, **kwargs)
        rate = self.mail_rate_per_minute
        if old_rate and (not rate or rate > old_rate):
            from .outbox import release_rate_held  # the outbox builds on these models

            release_rate_held(self)

    def get_absolute_url(self) -> str:
        return reverse("accounts:login", args=[self.slug])

    @property
    def number_label_text(self) -> str:
        """The customer number's name where no markup goes (a CSV column, a mail): the
        utility's word as typed in Japanese; in English 「Customer number (お客様番号)」, the
        slip's word in brackets so the resident finds it on the paper."""
        language = get_language() or settings.LANGUAGE_CODE
        if settings.PORTAL_HTML_LANG.get(language, language) == "ja":
            return self.customer_number_label
        return gettext("お客様番号(%(label)s)") % {"label": self.customer_number_label}

    @property
    def local(self) -> LocalTexts:
        """The texts staff typed, in the active language: ``utility.local.faq``."""
        return LocalTexts(self, tuple(name for name, _label in UtilityText.FIELDS))

    @property
    def language_codes(self) -> tuple[str, ...]:
        """The languages offered, in the order of settings.LANGUAGES (Japanese always)."""
        return language_codes(self.languages)

    @property
    def is_always_open(self) -> bool:
        return self.opens_at == self.closes_at

    def is_open_at(self, moment: datetime.datetime) -> bool:
        """Tell whether the portal is open at this aware local moment."""
        if self.is_always_open:
            return True
        now = moment.time()
        if self.opens_at < self.closes_at:
            return self.opens_at <= now < self.closes_at
        # The window crosses midnight (07:00-02:00): open after opening or before closing.
        return now >= self.opens_at or now < self.closes_at

    def next_opening(self, moment: datetime.datetime) -> datetime.datetime:
        """Return the next local moment at which the portal opens."""
        opening = moment.replace(
            hour=self.opens_at.hour, minute=self.opens_at.minute, second=0, microsecond=0
        )
        if opening <= moment:
            opening = (opening + datetime.timedelta(days=1)).replace(tzinfo=moment.tzinfo)
        return opening

    def next_closing(self, moment: datetime.datetime) -> datetime.datetime:
        """Return when the open window holding this aware local moment ends."""
        closing = moment.replace(
            hour=self.closes_at.hour, minute=self.closes_at.minute, second=0, microsecond=0
        )
        if closing <= moment:
            closing += datetime.timedelta(days=1)
        return closing

    def open_deadline(
        self, start: datetime.datetime, lifetime: datetime.timedelta
    ) -> datetime.datetime:
        """Return when ``lifetime`` of open hours, counted from ``start``, has passed.

        A link mailed at 01:40 with one hour to live, where the portal closes at 02:00 and
        opens at 07:00, lives until 07:40: the hours the resident cannot use it do not count.
        """
        if self.is_always_open:
            return start + lifetime
        moment, remaining = timezone.localtime(start), lifetime
        while True:
            if not self.is_open_at(moment):
                moment = self.next_opening(moment)
            closing = self.next_closing(moment)
            if moment + remaining <= closing:
                return moment + remaining
            remaining -= closing - moment
            moment = closing

    def clean(self) -> None:
        super().clean()
        errors = {}
        separate_sewer = self.sewer_invoice_issuer or self.sewer_invoice_registration_number
        if separate_sewer and not self.invoice_registration_number:
            errors["invoice_registration_number"] = _(
                "下水道使用料の発行事業者を入力するときは、水道料金の登録番号も入力してください。"
            )
        # The sewer's name and number make one issuer on the invoice: one without the other
        # would print the water utility's name beside the sewer body's number (or the reverse).
        if self.sewer_invoice_registration_number and not self.sewer_invoice_issuer:
            errors["sewer_invoice_issuer"] = _(
                "下水道使用料の登録番号を入力するときは、その発行事業者名も入力してください。"
            )
        if self.sewer_invoice_issuer and not self.sewer_invoice_registration_number:
            errors["sewer_invoice_registration_number"] = _(
                "下水道使用料の発行事業者名を入力するときは、その登録番号も入力してください。"
            )
        if errors:
            raise ValidationError(errors, code="sewer_invoice_pair")

    @property
    def issues_invoices(self) -> bool:
        """A registered issuer of qualified invoices (適格請求書): members may ask for the details."""
        return bool(self.invoice_registration_number)

    @property
    def logs_in_with_email(self) -> bool:
        return self.login_identifier == self.LoginIdentifier.EMAIL

    @property
    def hours_text(self) -> str:
        """Say the hours in the seed's words: 「毎日AM7:00〜AM2:00」 (English 「7:00 am – 2:00 am
        every day」: 〜 and 毎日 are Japanese, as billing_format's date ranges say)."""
        if (get_language() or "").startswith("en"):
            if self.is_always_open:
                return "24 hours a day"
            opens, closes = _clock(self.opens_at), _clock(self.closes_at)
            return f"{opens[2:]} {opens[:2].lower()} \u2013 {closes[2:]} {closes[:2].lower()} every day"
        if self.is_always_open:
            return "24時間"
        return f"毎日{_clock(self.opens_at)}〜{_clock(self.closes_at)}"

    @property
    def office_name(self) -> str:
        """The utility as its own residents call it, without the city: 「上下水道室」.

        Nayoro's guide asks for 「上下水道室に届け出た電話番号」, not 「名寄市上下水道室に…」.
        """
        return self.name.removeprefix(self.short_name) or self.name

    @property
    def sender_domain(self) -> str:
        return self.sender_email.rpartition("@")[2]


def _clock(t: datetime.time) -> str:
    half = "AM" if t.hour < 12 else "PM"
    hour = t.hour % 12 if t.hour % 12 or half == "AM" else 12
    return f"{half}{hour}:{t.minute:02d}"


# Texts staff type in Japanese ---------------------------------------------------------------


class LocalText(str):
    """A text staff typed, as the active language shows it: their version in that language,
    or the Japanese text. ``lang`` is "ja" when the Japanese text stands on a page or in a mail
    of another language (English), so a template marks its block ``lang="ja"``."""

    lang = ""
    # A version made from a Japanese text staff have changed since: the page says the
    # Japanese page is newer (includes/_stale_version.html).
    stale = False

    def __new__(cls, text: str, lang: str = "", stale: bool = False) -> LocalText:
        local = super().__new__(cls, text)
        local.lang, local.stale = lang, stale
        return local


def _same_text(a: str, b: str) -> bool:
    """Two Japanese texts alike but for line ends and the space around them."""
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


def other_languages() -> list[tuple[str, str]]:
    """The languages a text may have a version in: every one but Japanese (the typed text)."""
    return [(code, name) for code, name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


def local_text(owner: models.Model, field: str) -> LocalText:
    """``owner``'s text ``field`` in the active language (``owner.text_versions`` holds the
    versions staff gave). Without a version, the Japanese text: in やさしい日本語 as it is, in
    English marked ``lang="ja"``. What staff typed is never read as furigana (portal.furigana)."""
    typed = getattr(owner, field) or ""
    language = get_language() or settings.LANGUAGE_CODE
    if language == settings.LANGUAGE_CODE:
        return LocalText(typed)
    versions = owner.__dict__.get("_text_versions")
    if versions is None:  # one query for all of an owner's versions, on first use
        rows = owner.text_versions.all() if owner.pk else []
        versions = owner.__dict__["_text_versions"] = {
            (row.language, row.field): (row.text, row.source) for row in rows
        }
    text, source = versions.get((language, field), ("", ""))
    text, lang = text.strip(), ""
    stale = bool(text and source) and not _same_text(source, typed)
    default = owner._meta.get_field(field).default
    if not text and isinstance(default, str) and default and typed.strip() == default:
        # The portal's own words, left as they came (not typed by staff): its catalogs say them.
        return LocalText(gettext(default))
    if not text:
        text = typed
        html_lang = settings.PORTAL_HTML_LANG.get(language, language)
        lang = "" if html_lang == "ja" or not text else "ja"
    if language == furigana.EASY_JAPANESE:
        text = furigana.typed_text(text)
    return LocalText(text, lang, stale)


class LocalTexts:
    """``utility.local.faq`` in a template: each text of ``fields`` in the active language."""

    def __init__(self, owner: models.Model, fields: tuple[str, ...]) -> None:
        self._owner, self._fields = owner, fields

    def __getattr__(self, field: str) -> LocalText:
        if field.startswith("_") or field not in self._fields:
            raise AttributeError(field)
        return local_text(self._owner, field)


class TextVersion(models.Model):
    """One text staff typed in Japanese, given in another language (English, やさしい日本語)."""

    language = models.CharField(_("言語"), max_length=20, choices=other_languages)
    text = models.TextField(
        _("この言語の文章"),
        help_text=_(
            "そのまま表示します(ふりがなの記法は使えません。読みは「漢字(かんじ)」のように"
            "書いてください)。空欄の言語には日本語の文章を表示します。"
        ),
    )
    # The Japanese text as it was when this version was saved: once staff change the
    # Japanese, the admin and the page in this language say the version is behind it.
    # Empty for a version loaded from a fixture (nothing known, nothing said).
    source = models.TextField(_("保存時の日本語の文章"), blank=True, editable=False)

    class Meta:
        abstract = True
        verbose_name = _("文章の他の言語版")
        verbose_name_plural = _("文章の他の言語版")
        ordering = ["field", "language"]

    def __str__(self) -> str:
        return f"{self.get_field_display()} ({self.get_language_display()})"

    def save(self, *args, **kwargs) -> None:
        self.source = getattr(self.owner, self.field) or ""
        super().save(*args, **kwargs)

    @property
    def owner(self) -> models.Model:
        raise NotImplementedError

    @property
    def japanese_changed(self) -> bool:
        """The Japanese text changed after this version was saved."""
        return bool(self.source) and not _same_text(
            self.source, getattr(self.owner, self.field) or ""
        )


class UtilityText(TextVersion):
    """A utility's text (FAQ, 利用規約, …) in another language, edited on the utility."""

    FIELDS = (
        ("contact_block", _("お問い合わせ先")),
        ("offices", _("お客さま窓口一覧")),
        ("faq", _("FAQ")),
        ("terms_text", _("利用規約")),
        ("privacy_text", _("個人情報の取り扱いについて")),
        ("data_delay_note", _("データ反映の案内")),
        ("web_slip_text", _("Web明細の説明")),
    )

    utility = models.ForeignKey(
        Utility, on_delete=models.CASCADE, related_name="text_versions", verbose_name=_("事業者")
    )
    field = models.CharField(_("文章"), max_length=40, choices=FIELDS)

    class Meta(TextVersion.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "field", "language"], name="one_utility_text_per_language"
            )
        ]

    @property
    def owner(self) -> Utility:
        return self.utility

    def clean(self) -> None:
        super().clean()
        if self.field == "contact_block" and self.text.strip():
            try:
                validate_contact_block(self.text)
            except ValidationError as exc:
                raise ValidationError({"text": exc.messages}) from exc


class OutboxMail(models.Model):
    """One mail the portal owes someone (portal.outbox): written in the transaction of the
    change that causes it, sent after commit by a worker, swept if left unsent.

    The message is rendered when written (it says what was true then). Its body may hold a
    link or a code, so it is emptied once the mail is sent or has finally failed.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("送信待ち")
        SENDING = "sending", _("送信中")
        SENT = "sent", _("送信済み")
        FAILED = "failed", _("送信失敗")
        # A mail about a member that no longer fits the member when its turn came (withdrawn,
        # no longer linked, that kind turned off): not sent, the reason in last_error.
        CANCELLED = "cancelled", _("送信取りやめ")

    utility = models.ForeignKey(
        Utility, on_delete=models.CASCADE, related_name="outbox_mails", verbose_name=_("事業者")
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outbox_mails",
        verbose_name=_("会員"),
    )
    recipient = models.EmailField(_("宛先"), max_length=254)
    template = models.CharField(_("メールの種類"), max_length=60)
    key = models.CharField(
        _("重複防止キー"),
        max_length=200,
        unique=True,
        help_text=_("同じキーのメールは一度だけ送ります。"),
    )
    sender = models.CharField(_("差出人"), max_length=300)
    subject = models.CharField(_("件名"), max_length=300)
    body = models.TextField(_("本文"), blank=True)
    language = models.CharField(
        _("言語"),
        max_length=10,
        blank=True,
        default="",
        help_text=_("このメールを書いた言語(会員にはその会員の言語、ほかは受付時の画面の言語)。"),
    )
    status = models.CharField(
        _("状態"), max_length=10, choices=Status, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(_("送信回数"), default=0)
    next_attempt_at = models.DateTimeField(_("次の送信"), default=timezone.now, db_index=True)
    claimed_at = models.DateTimeField(_("送信開始"), null=True, blank=True)
    last_error = models.TextField(_("メールサーバーの応答"), blank=True)
    created_at = models.DateTimeField(_("受付日時"), default=timezone.now)
    sent_at = models.DateTimeField(_("送信日時"), null=True, blank=True)
    failed_at = models.DateTimeField(_("失敗日時"), null=True, blank=True)
    member_told_at = models.DateTimeField(_("会員へ通知"), null=True, blank=True)

    class Meta:
        verbose_name = _("送信メール")
        verbose_name_plural = _("送信メール")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.subject} → {self.recipient}"

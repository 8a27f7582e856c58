"""Water contracts and the meter readings the utility's billing system exports."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

METER_DIAMETERS_MM = (13, 20, 25, 30, 40, 50, 75, 100, 150)


class Customer(models.Model):
    """One water contract (契約) of a utility, keyed by the number on the slip."""

    utility = models.ForeignKey(
        "portal.Utility",
        on_delete=models.PROTECT,
        related_name="customers",
        verbose_name=_("事業者"),
    )
    number = models.CharField(_("お客様番号"), max_length=20)
    name = models.CharField(_("契約者名"), max_length=100)
    name_kana = models.CharField(_("契約者名カナ"), max_length=100, blank=True)
    address = models.CharField(_("住所"), max_length=256, blank=True)
    building = models.CharField(_("建物名・部屋番号"), max_length=256, blank=True)
    phone = models.CharField(_("電話番号"), max_length=20, blank=True)
    meter_diameter_mm = models.PositiveSmallIntegerField(
        _("口径(mm)"), choices=[(d, f"{d}mm") for d in METER_DIAMETERS_MM], default=13
    )
    meter_number = models.CharField(_("メーター番号"), max_length=20, blank=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        verbose_name = _("契約")
        verbose_name_plural = _("契約")
        ordering = ["utility", "number"]
        constraints = [
            models.UniqueConstraint(fields=["utility", "number"], name="customer_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class MeterReadingQuerySet(models.QuerySet):
    def latest_first(self) -> MeterReadingQuerySet:
        return self.order_by("-period_end")


class MeterReading(models.Model):
    """One billing period of one contract, named as the CIS export's columns.

    A contract's periods never overlap (PostgreSQL holds this with an exclusion constraint;
    on SQLite ``clean`` and the importer do). ``flag`` says why a row needs a second look.
    """

    class Flag(models.TextChoices):
        NONE = "", _("なし")
        ROLLOVER = "rollover", _("メーター一巡・交換")
        GAP = "gap", _("前回指針の不一致")

    # No index of its own: the unique (customer, period_end) index starts with it and serves
    # every lookup by customer, and a second index would cost every imported row.
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="readings",
        verbose_name=_("契約"),
        db_index=False,
    )
    period_start = models.DateField(_("使用期間(開始)"))
    period_end = models.DateField(_("使用期間(終了)"))
    read_on = models.DateField(_("検針日"))
    previous_index = models.PositiveIntegerField(_("前回の指針"))
    current_index = models.PositiveIntegerField(_("今回の指針"))
    usage_m3 = models.PositiveIntegerField(_("使用水量(m³)"))
    water_charge = models.PositiveIntegerField(_("水道料金(円)"))
    sewer_charge = models.PositiveIntegerField(_("下水道使用料(円)"))
    tax = models.PositiveIntegerField(_("うち消費税(円)"))
    total = models.PositiveIntegerField(_("請求金額(円)"))
    # db_default: the importer's INSERTs name the CSV's columns only.
    flag = models.CharField(
        _("要確認"),
        max_length=10,
        choices=Flag,
        default=Flag.NONE,
        db_default=Flag.NONE,
        blank=True,
    )

    # The total the bill-ready mail last announced (billing.billmail): empty until mailed, so a
    # new reading, and a corrected total, are told once. The importer never writes it.
    mailed_total = models.PositiveIntegerField(
        _("お知らせメールで案内した請求金額(円)"), null=True, blank=True, editable=False
    )
    # How many bill-ready mails this reading has sent (0: none, even when the upgrade or the
    # demo marked it told): each mail's outbox key carries the count, so A→B→A→B mails each
    # change, and only a reading that was mailed is corrected (「先のお知らせでは…」).
    mail_count = models.PositiveIntegerField(
        _("お知らせメールの送信回数"), default=0, db_default=0, editable=False
    )
    # The period as last mailed: a correction that moves it (replaces_period_end) carries the
    # mail state over to the replacing row (the importer); one that moves either date, with
    # the same total too, is mailed as a correction naming them (billmail). The start is empty
    # for a reading mailed before it was kept (its end alone is then compared and named).
    mailed_period_start = models.DateField(
        _("お知らせメールで案内した使用期間の始め"), null=True, blank=True, editable=False
    )
    mailed_period_end = models.DateField(
        _("お知らせメールで案内した使用期間の終わり"), null=True, blank=True, editable=False
    )

    objects = MeterReadingQuerySet.as_manager()

    class Meta:
        verbose_name = _("検針・料金")
        verbose_name_plural = _("検針・料金")
        ordering = ["customer", "-period_end"]
        # The unique index on (customer, period_end) also serves "latest N of one customer"
        # by a backward index scan.
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "period_end"], name="reading_unique_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer.number} {self.period_start}〜{self.period_end}"

    def clean(self) -> None:
        """Refuse a period that ends before it starts, is too long, or overlaps a stored one."""
        from .integrity import period_problems  # integrity works on models' rows

        problems = period_problems(self)
        if problems:
            raise ValidationError(problems)

    @property
    def days(self) -> int:
        return (self.period_end - self.period_start).days + 1


class PeriodCorrection(models.Model):
    """A period a correction replaced (its end) and one that holds it now, so that a bill still
    naming the old period is refused with the new dates (import_payments). Kept by
    imports.payments.remember_corrections: when C replaces B, what led to B leads to C."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="period_corrections"
    )
    old_end = models.DateField(_("訂正で置き換えた使用期間の終わり"))
    new_end = models.DateField(_("訂正後の使用期間の終わり"))

    class Meta:
        verbose_name = _("検針の訂正")
        verbose_name_plural = _("検針の訂正")
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "old_end", "new_end"], name="period_correction_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.old_end} → {self.new_end}"


class PaymentQuerySet(models.QuerySet):
    def latest_first(self) -> PaymentQuerySet:
        return self.order_by("-period_end")


class Payment(models.Model):
    """請求・収納: what one contract was billed for one period, by when, and how it was paid.

    Imported from the CIS (``import_payments``); keyed as MeterReading is, by (customer,
    period_end), so a bill meets its reading where there is one. Yen are integers.
    """

    class Method(models.TextChoices):
        TRANSFER = "transfer", _("口座振替")
        SLIP = "slip", _("納付書")
        CARD = "card", _("クレジットカード")
        SMARTPHONE = "smartphone", _("スマホ決済")

    class Status(models.TextChoices):
        UNPAID = "unpaid", _("未納")
        PAID = "paid", _("納付済")
        TRANSFER_FAILED = "failed", _("振替不能")
        OVERPAID = "overpaid", _("過誤納")

    # No index of its own: the unique (customer, period_end) index starts with it.
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="payments",
        verbose_name=_("契約"),
        db_index=False,
    )
    period_start = models.DateField(_("使用期間(開始)"))
    period_end = models.DateField(_("使用期間(終了)"))
    billed_amount = models.PositiveIntegerField(_("請求額(円)"))
    due_date = models.DateField(_("納期限"))
    method = models.CharField(_("支払方法"), max_length=10, choices=Method)
    paid_on = models.DateField(_("口座振替日・納付日"), null=True, blank=True)
    paid_amount = models.PositiveIntegerField(_("入金額(円)"), default=0)
    status = models.CharField(_("状態"), max_length=10, choices=Status)
    # The last import that carried the row (or hand edit): a payment made since is not in it yet.
    imported_at = models.DateTimeField(_("取り込み日時"), default=timezone.now)

    objects = PaymentQuerySet.as_manager()

    class Meta:
        verbose_name = _("請求・収納")
        verbose_name_plural = _("請求・収納")
        ordering = ["customer", "-period_end"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "period_end"], name="payment_unique_period"
            ),
            # A payment received has a day it was received (the importer says so per line).
            models.CheckConstraint(
                condition=~models.Q(status__in=["paid", "overpaid"], paid_on__isnull=True),
                name="payment_paid_has_date",
            ),
        ]
        indexes = [
            # The staff list of one status for a period (振替不能 of a month).
            models.Index(fields=["status", "period_end"], name="payment_status_period"),
        ]

    def __str__(self) -> str:
        return f"{self.customer.number} {self.period_start}〜{self.period_end}"

    @property
    def settled(self) -> bool:
        """Paid in full (or more): nothing is owed for this period."""
        return self.status in (self.Status.PAID, self.Status.OVERPAID)


class IssuedDocument(models.Model):
    """A 適格請求書 or 領収済・収納済の証明 as issued: its PDF kept byte for byte.

    An electronic invoice must be kept unaltered for seven years (国税庁, 電子帳簿保存法): the
    row is never rewritten. When the facts printed change (a later import corrects the amount,
    the contract's name changes), the next request issues a new revision with a new number.
    """

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("適格請求書")
        RECEIPT = "receipt", _("領収済・収納済の証明")

    # PROTECT: deleting a contract must not delete what was issued to it.
    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        related_name="issued_documents",
        verbose_name=_("契約"),
        db_index=False,  # the unique (customer, kind, period_end, revision) index starts with it
    )
    kind = models.CharField(_("書類"), max_length=10, choices=Kind)
    period_end = models.DateField(_("使用期間(終了)"))
    revision = models.PositiveSmallIntegerField(_("版"))
    number = models.CharField(_("書類番号"), max_length=60)
    issued_at = models.DateTimeField(_("発行日時"))
    facts = models.JSONField(_("記載内容"))
    facts_sha256 = models.CharField(_("記載内容のSHA-256"), max_length=64)
    pdf = models.BinaryField(_("PDF"))
    pdf_sha256 = models.CharField(_("PDFのSHA-256"), max_length=64)

    class Meta:
        verbose_name = _("発行済みの書類")
        verbose_name_plural = _("発行済みの書類")
        ordering = ["-issued_at"]
        constraints = [
            # Two requests at once issue one revision: the second one's INSERT fails and it
            # reads the first one's row (billing/documents.py).
            models.UniqueConstraint(
                fields=["customer", "kind", "period_end", "revision"],
                name="issued_document_unique_revision",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class ImportFile(models.Model):
    """A CSV uploaded in the admin, kept in the database (``ImportChunk``) so that every server
    and worker reaches it; deleted with its jobs a day after the upload (billing.importjobs)."""

    class Kind(models.TextChoices):
        CUSTOMERS = "customers", _("契約")
        READINGS = "readings", _("検針・料金")
        PAYMENTS = "payments", _("請求・収納")

    kind = models.CharField(_("種類"), max_length=10, choices=Kind)
    # Whose rows the file may hold: the uploader's utility; blank for a superuser's (any).
    utility = models.ForeignKey(
        "portal.Utility",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="import_files",
        verbose_name=_("事業者"),
    )
    name = models.CharField(_("ファイル名"), max_length=255)
    size = models.BigIntegerField(_("大きさ(バイト)"), default=0)
    uploaded_by = models.CharField(_("取り込んだ職員"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("受付日時"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("取り込むCSV")
        verbose_name_plural = _("取り込むCSV")

    def __str__(self) -> str:
        return self.name


class ImportChunk(models.Model):
    """About a megabyte of an uploaded file, in order (``seq``)."""

    file = models.ForeignKey(ImportFile, on_delete=models.CASCADE, related_name="chunks")
    seq = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["file", "seq"], name="import_chunk_unique_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.file_id}:{self.seq}"


class ImportJob(models.Model):
    """One run of the importer over a stored file (a dry run, or the import itself)."""

    class State(models.TextChoices):
        QUEUED = "queued", _("待機中")
        RUNNING = "running", _("取り込み中")
        DONE = "done", _("完了")
        FAILED = "failed", _("失敗")

    file = models.ForeignKey(ImportFile, on_delete=models.CASCADE, related_name="jobs")
    encoding = models.CharField(_("文字コード"), max_length=10, blank=True)
    dry_run = models.BooleanField(_("検査のみ"), default=True)
    replace_overlapping = models.BooleanField(_("重なる検針を置き換える"), default=False)
    hold_mail = models.BooleanField(_("お知らせメールを保留する"), default=False, db_default=False)
    state = models.CharField(
        _("状態"), max_length=10, choices=State, default=State.QUEUED, db_index=True
    )
    rows_read = models.BigIntegerField(_("読み込んだ行"), default=0)
    writing = models.BooleanField(_("照合・書き込み中"), default=False)
    result = models.JSONField(_("結果"), null=True, blank=True)
    failure = models.TextField(_("失敗の理由"), blank=True)
    started_by = models.CharField(_("開始した職員"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("受付日時"), default=timezone.now)
    started_at = models.DateTimeField(_("開始日時"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("最終報告"), null=True, blank=True)
    finished_at = models.DateTimeField(_("終了日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("CSV取り込み")
        verbose_name_plural = _("CSV取り込み")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["state", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"{self.file_id}:{self.pk} {self.get_state_display()}"

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)


def lines_of(text: str) -> list[str]:
    """The non-blank lines of a text field holding one value a line, as stored."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class NoticeQuerySet(models.QuerySet):
    def current(self, utility, now) -> NoticeQuerySet:
        """Published and not yet expired notices of ``utility``, important and newest first."""
        return self.not_ended(utility, now).filter(publish_at__lte=now)

    def not_ended(self, utility, now) -> NoticeQuerySet:
        """The notices of ``utility`` not ended at ``now``, published yet or not, in the same
        order as ``current``: each is shown while ``Notice.is_published``."""
        return (
            self.filter(utility=utility)
            .filter(models.Q(expire_at__isnull=True) | models.Q(expire_at__gt=now))
            .order_by("-important", "-publish_at", "-pk")
        )


class Notice(models.Model):
    """お知らせ: a utility's message to its members (all, some areas, or some contracts)."""

    class Category(models.TextChoices):
        OUTAGE = "outage", _("断水")
        WORKS = "works", _("工事")
        TARIFF = "tariff", _("料金改定")
        SYSTEM = "system", _("システム停止")
        OTHER = "other", _("その他")

    class Audience(models.TextChoices):
        ALL = "all", _("すべての会員")
        AREAS = "areas", _("地域(住所の先頭)で指定")
        CUSTOMERS = "customers", _("お客様番号の一覧で指定")

    utility = models.ForeignKey(
        "portal.Utility",
        on_delete=models.CASCADE,
        related_name="notices",
        verbose_name=_("事業者"),
    )
    title = models.CharField(_("件名"), max_length=100)
    body = models.TextField(
        _("本文"), help_text=_("文字のまま表示します(HTMLは使えません)。改行はそのまま表示します。")
    )
    category = models.CharField(_("種類"), max_length=10, choices=Category, default=Category.OTHER)
    important = models.BooleanField(_("重要"), default=False)
    publish_at = models.DateTimeField(_("掲載開始日時"), default=timezone.now)
    expire_at = models.DateTimeField(
        _("掲載終了日時"), null=True, blank=True, help_text=_("空欄は終了なし")
    )
    audience = models.CharField(_("対象"), max_length=10, choices=Audience, default=Audience.ALL)
    area_prefixes = models.TextField(
        _("対象の地域"),
        blank=True,
        help_text=_(
            "対象が「地域」のとき、契約の住所の先頭を1行に1つ(例: 金沢市広坂)。"
            "どの契約にも当たらない行があると保存できません。"
        ),
    )
    customer_numbers = models.TextField(
        _("対象のお客様番号"),
        blank=True,
        help_text=_("対象が「お客様番号の一覧」のとき、1行に1つ。"),
    )
    public = models.BooleanField(
        _("ログイン画面にも掲載する"),
        default=False,
        help_text=_("ログインしていない方にも見える、ログイン画面のお知らせ欄に載せます。"),
    )
    mail_members = models.BooleanField(
        _("対象の会員にメールで送る"),
        default=False,
        help_text=_(
            "重要なお知らせだけ送れます。掲載開始日時になると、対象の会員に1通ずつ送ります。"
        ),
    )
    # Mailing runs in batches of members by id: the last member mailed, and when it finished.
    mail_cursor = models.BigIntegerField(_("送信済みの会員ID"), default=0, editable=False)
    mail_touched_at = models.DateTimeField(_("送信処理の最終時刻"), null=True, editable=False)
    mailed_at = models.DateTimeField(_("メール送信完了"), null=True, blank=True, editable=False)
    # The add form's one-time token: posted twice (a double click), it saves one notice.
    form_token = models.CharField(
        _("入力画面の識別子"), max_length=32, blank=True, default="", editable=False
    )
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    objects = NoticeQuerySet.as_manager()

    class Meta:
        verbose_name = _("お知らせ")
        verbose_name_plural = _("お知らせ")
        ordering = ["utility", "-publish_at"]
        indexes = [models.Index(fields=["utility", "publish_at"], name="notice_utility_publish")]
        constraints = [
            models.UniqueConstraint(
                fields=["form_token"],
                condition=~models.Q(form_token=""),
                name="notice_saved_once_per_add_form",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def prefixes(self) -> list[str]:
        return lines_of(self.area_prefixes) if self.audience == self.Audience.AREAS else []

    @property
    def numbers(self) -> list[str]:
        return lines_of(self.customer_numbers) if self.audience == self.Audience.CUSTOMERS else []

    def is_published(self, now) -> bool:
        """Past its 掲載開始日時 and not past its 掲載終了日時 (as ``current`` selects)."""
        return self.publish_at <= now and (self.expire_at is None or self.expire_at > now)

    def reaches(self, contracts) -> bool:
        """Tell whether a member holding ``contracts`` (of this utility) is in the audience.

        A contract here is anything with its ``number`` and ``address`` (a Customer, or the
        cached ``billing.notices.Place``)."""
        if self.audience == self.Audience.AREAS:
            prefixes = tuple(self.prefixes)
            return any(c.address.startswith(prefixes) for c in contracts)
        if self.audience == self.Audience.CUSTOMERS:
            numbers = set(self.numbers)
            return any(c.number in numbers for c in contracts)
        return True

    def target_contracts(self) -> models.QuerySet[Customer]:
        """The utility's contracts this notice is aimed at."""
        contracts = Customer.objects.filter(utility_id=self.utility_id)
        if self.audience == self.Audience.AREAS:
            query = models.Q(pk__in=[])
            for prefix in self.prefixes:
                query |= models.Q(address__startswith=prefix)
            return contracts.filter(query)
        if self.audience == self.Audience.CUSTOMERS:
            return contracts.filter(number__in=self.numbers)
        return contracts


class NoticeRead(models.Model):
    """A member opened a notice (its 未読 mark goes)."""

    notice = models.ForeignKey(
        Notice, on_delete=models.CASCADE, related_name="reads", verbose_name=_("お知らせ")
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notice_reads",
        verbose_name=_("会員"),
    )
    read_at = models.DateTimeField(_("既読日時"), default=timezone.now)

    class Meta:
        verbose_name = _("お知らせの既読")
        verbose_name_plural = _("お知らせの既読")
        constraints = [
            models.UniqueConstraint(fields=["notice", "member"], name="notice_read_once"),
        ]

    def __str__(self) -> str:
        return f"{self.notice} / {self.member}"


class WebSlip(models.Model):
    """Web明細: a contract whose paper 検針票 a member stopped (or restarted), for the CIS."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, related_name="web_slip", verbose_name=_("契約")
    )
    paper_stopped = models.BooleanField(_("紙の検針票を停止"), default=True)
    chosen_on = models.DateField(_("選択日"))
    chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("選択した会員"),
    )

    class Meta:
        verbose_name = _("Web明細")
        verbose_name_plural = _("Web明細")
        ordering = ["-chosen_on", "customer"]

    def __str__(self) -> str:
        return str(self.customer)


def masked_address(address: str) -> str:
    """``m***@example.jp``: the first letter of the mailbox and the domain, for staff's lists."""
    local, _at, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


class Watch(models.Model):
    """見守り: a second person mailed when a member's contract used less than a threshold.

    The member names the address and the threshold; nothing goes there until that person
    opens the single-use link mailed to them (valid ``PORTAL_WATCH_CONSENT_HOURS``) and agrees,
    which records when and to which address. Each mail there carries a link that stops it
    (signed with SECRET_KEY); the consent link is kept as a SHA-256 hash only.
    """

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="watch",
        verbose_name=_("会員"),
    )
    email = models.EmailField(_("見守る方のメールアドレス"), max_length=254)
    threshold_m3 = models.PositiveIntegerField(_("お知らせする使用水量(m³未満)"))
    created_at = models.DateTimeField(_("登録日時"), default=timezone.now)
    consent_hash = models.CharField(max_length=64, blank=True, editable=False)
    consent_expires_at = models.DateTimeField(_("同意の期限"), null=True, blank=True)
    consented_at = models.DateTimeField(_("同意日時"), null=True, blank=True)
    consented_email = models.EmailField(_("同意したメールアドレス"), blank=True)
    stopped_at = models.DateTimeField(_("停止日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("見守りメール")
        verbose_name_plural = _("見守りメール")

    def __str__(self) -> str:
        # Masked: the title of staff's read-only page (the second person is not their member).
        return f"{self.member} → {masked_address(self.email)}"

    @property
    def active(self) -> bool:
        return self.consented_at is not None and self.stopped_at is None

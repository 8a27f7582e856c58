"""使用開始・使用中止 applications and each utility's settings for them (issue 21).

``moving`` sits above the other apps: it imports ``accounts``, ``billing`` and ``portal``;
none of them imports it (会員情報 reaches a member's applications by the related name).
"""

from __future__ import annotations

import datetime
import hashlib
import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext_lazy as _

from billing.templatetags.billing_format import jdate_text, month_day_text, range_text
from portal import normalize
from portal.models import LocalTexts, TextVersion, local_text

# 「12/29-1/3 年末年始」 (every year) or 「2027-05-06 臨時休業」 (one day), one a line.
_YEARLY = re.compile(r"^(\d{1,2})/(\d{1,2})(?:\s*[-〜~]\s*(\d{1,2})/(\d{1,2}))?(?:\s+(.*))?$")
_ONE_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:\s+(.*))?$")


def parse_closed_dates(text: str) -> list[tuple[object, str]]:
    """Read 「受け付けない日」: one rule a line, ``(rule, reason)``; raise ValidationError
    naming the line otherwise. A rule is a ``datetime.date`` or ``((m, d), (m, d))``."""
    rules: list[tuple[object, str]] = []
    problems = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip().replace("／", "/").replace("－", "-")
        if not line:
            continue
        try:
            if found := _ONE_DAY.match(line):
                year, month, day, reason = found.groups()
                rules.append((datetime.date(int(year), int(month), int(day)), reason or ""))
                continue
            if found := _YEARLY.match(line):
                m1, d1, m2, d2, reason = found.groups()
                first = (int(m1), int(d1))
                last = (int(m2), int(d2)) if m2 else first
                for month, day in (first, last):
                    datetime.date(2024, month, day)  # a leap year: 2/29 is a day
                if _yearly_length(first, last) > LONGEST_CLOSED_DAYS:
                    problems.append(
                        _(
                            "%(n)d行目: 受け付けない期間が長すぎます。始まりの日-終わりの日の順に"
                            "入力してください(例: 12/29-1/3)。"
                        )
                        % {"n": number}
                    )
                    continue
                rules.append(((first, last), reason or ""))
                continue
        except ValueError:
            pass
        problems.append(
            _(
                "%(n)d行目: 「12/29-1/3 年末年始」または「2027-05-06 臨時休業」の形で入力してください。"
            )
            % {"n": number}
        )
    if problems:
        raise ValidationError(problems)
    return rules


# A yearly closed range longer than this is taken as typed the wrong way round (「1/3-12/29」
# closes all but five days of the year).
LONGEST_CLOSED_DAYS = 92


def _yearly_length(first: tuple[int, int], last: tuple[int, int]) -> int:
    """Days from ``first`` to ``last`` inclusive, across the new year if need be."""

    def day_of_year(month_day: tuple[int, int]) -> int:
        return datetime.date(2024, *month_day).timetuple().tm_yday  # a leap year

    return (day_of_year(last) - day_of_year(first)) % 366 + 1


def _in_yearly(day: datetime.date, first: tuple[int, int], last: tuple[int, int]) -> bool:
    key = (day.month, day.day)
    if first <= last:
        return first <= key <= last
    return key >= first or key <= last  # across the new year: 12/29-1/3


class MovingSettings(models.Model):
    """What a utility offers for moving, edited by its staff (引越しの受付設定)."""

    utility = models.OneToOneField(
        "portal.Utility",
        on_delete=models.CASCADE,
        related_name="moving_settings",
        verbose_name=_("事業者"),
    )
    offers_move_out = models.BooleanField(_("使用中止を受け付ける"), default=True)
    offers_move_in = models.BooleanField(_("使用開始を受け付ける"), default=True)
    # Off until the utility decides: a change of holder (相続・売買…) is often handled at the
    # counter with documents, so a utility opts in.
    offers_name_change = models.BooleanField(_("名義変更を受け付ける"), default=False)
    earliest_days = models.PositiveSmallIntegerField(
        _("受付できる最短の日(何日後から)"),
        default=3,
        help_text=_("0 は当日から。手続きに要する日数を見込んでください。"),
    )
    window_days = models.PositiveSmallIntegerField(
        _("受付できる期間(何日先まで)"), default=60, help_text=_("例: 60(約2か月先まで)")
    )
    closed_dates = models.TextField(
        _("受け付けない日"),
        blank=True,
        default=gettext_noop("12/29-1/3 年末年始"),
        help_text=_(
            "1行に1つ。毎年の期間は「12/29-1/3 年末年始」、1日だけは「2027-05-06 臨時休業」。"
            "日付のあとに理由を書くと、画面でお客さまに示します。"
        ),
    )
    move_out_text = models.TextField(
        _("使用中止の説明"),
        blank=True,
        default=gettext_noop(
            "引越しなどで水道の使用をやめるときにお申し込みください。"
            "中止日に最終の検針を行い、精算します。"
        ),
    )
    move_in_text = models.TextField(
        _("使用開始の説明"),
        blank=True,
        default=gettext_noop("新しいお住まいで水道を使い始めるときにお申し込みください。"),
    )
    name_change_text = models.TextField(
        _("名義変更の説明"),
        blank=True,
        default=gettext_noop(
            "相続や売買、結婚などで水道のご契約者(名義)が変わるときにお申し込みください。"
            "お住まいが変わらず、水道を使い続ける場合の手続きです。"
        ),
    )

    class Meta:
        verbose_name = _("引越しの受付設定")
        verbose_name_plural = _("引越しの受付設定")

    def __str__(self) -> str:
        return str(self.utility)

    def clean(self) -> None:
        super().clean()
        try:
            parse_closed_dates(self.closed_dates)
        except ValidationError as exc:
            raise ValidationError({"closed_dates": exc.messages}) from exc
        if self.window_days < self.earliest_days:
            raise ValidationError(
                {"window_days": _("受付できる期間は、最短の日以上にしてください。")}
            )

    @property
    def local(self) -> LocalTexts:
        """The texts staff typed, in the active language: ``settings.local.move_out_text``."""
        return LocalTexts(self, tuple(name for name, _label in MovingText.FIELDS))

    def offers(self, kind: str) -> bool:
        return getattr(self, f"offers_{kind}")

    def text(self, kind: str) -> str:
        return local_text(self, f"{kind}_text")

    def first_day(self, today: datetime.date | None = None) -> datetime.date:
        return (today or timezone.localdate()) + datetime.timedelta(days=self.earliest_days)

    def last_day(self, today: datetime.date | None = None) -> datetime.date:
        return (today or timezone.localdate()) + datetime.timedelta(days=self.window_days)

    def _local_reasons(self) -> dict[object, str]:
        """Each closed rule's reason in the active language: from the version staff gave in
        it (same dates, reasons translated), else the Japanese reason, but none in English:
        a Japanese word is not spliced into an English sentence."""
        text = local_text(self, "closed_dates")
        if text.lang:
            return {}
        try:
            return dict(parse_closed_dates(text))
        except ValidationError:
            return {}

    def closed_summary(self) -> str:
        """「12/29〜1/3(年末年始)、2027年5月6日(臨時休業)」 for the date's help text."""
        try:
            rules = parse_closed_dates(self.closed_dates)
        except ValidationError:
            return ""
        reasons, english = self._local_reasons(), (get_language() or "").startswith("en")
        parts = []
        for rule, _reason in rules:
            reason = reasons.get(rule, "")
            if isinstance(rule, datetime.date):
                when = jdate_text(rule)
            else:
                first, last = (month_day_text(datetime.date(2024, *end)) for end in rule)
                when = first if rule[0] == rule[1] else range_text(first, last)
            if reason:
                when = f"{when} ({reason})" if english else f"{when}({reason})"
            parts.append(when)
        return ", ".join(parts) if english else "、".join(parts)

    def closed_reason(self, day: datetime.date) -> str | None:
        """Why ``day`` is not workable (the line's reason, or ""), or None if it is."""
        try:
            rules = parse_closed_dates(self.closed_dates)
        except ValidationError:
            return None  # refused in the admin already; a broken line closes nothing
        for rule, _reason in rules:
            if rule == day or (not isinstance(rule, datetime.date) and _in_yearly(day, *rule)):
                return self._local_reasons().get(rule, "")
        return None


def settings_for(utility) -> MovingSettings | None:
    """The utility's settings, or None if it has none (then it offers no online moving)."""
    try:
        return utility.moving_settings
    except MovingSettings.DoesNotExist:
        return None


class MoveApplication(models.Model):
    """One 使用中止 or 使用開始 application, as typed, with the staff's handling."""

    class Kind(models.TextChoices):
        MOVE_OUT = "move_out", _("使用中止")
        MOVE_IN = "move_in", _("使用開始")
        NAME_CHANGE = "name_change", _("名義変更")

    class Status(models.TextChoices):
        RECEIVED = "received", _("受付済")
        PROCESSING = "processing", _("処理中")
        DONE = "done", _("完了")
        CONTACT = "contact", _("要連絡")

    class Payment(models.TextChoices):
        TRANSFER = "transfer", _("口座振替")
        SLIP = "slip", _("納付書")

    class Relationship(models.TextChoices):
        """Why the holder changes (名義変更): the CIS reads the value."""

        INHERITANCE = "inheritance", _("相続")
        SALE = "sale", _("売買・譲渡")
        MARRIAGE = "marriage", _("結婚・離婚")
        FAMILY = "family", _("世帯主の変更")
        OTHER = "other", _("その他")

    utility = models.ForeignKey(
        "portal.Utility",
        on_delete=models.CASCADE,
        related_name="move_applications",
        verbose_name=_("事業者"),
    )
    kind = models.CharField(_("種類"), max_length=16, choices=Kind)
    reference = models.CharField(_("受付番号"), max_length=20, unique=True)
    status = models.CharField(_("状況"), max_length=12, choices=Status, default=Status.RECEIVED)
    member = models.ForeignKey(
        "accounts.Member",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="move_applications",
        verbose_name=_("会員"),
    )
    customer = models.ForeignKey(
        "billing.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="move_applications",
        verbose_name=_("照合した契約"),
    )
    customer_number = models.CharField(_("入力されたお客様番号"), max_length=20, blank=True)
    move_date = models.DateField(_("希望日"))
    name = models.CharField(_("お名前"), max_length=40, blank=True)
    name_kana = models.CharField(_("お名前カナ"), max_length=100, blank=True)
    phone = models.CharField(_("連絡先電話番号"), max_length=20)
    email = models.EmailField(_("メールアドレス"), max_length=254)
    address = models.CharField(_("住所"), max_length=256, blank=True)
    building = models.CharField(_("建物名・部屋番号"), max_length=256, blank=True)
    final_bill_address = models.CharField(_("精算書の送付先"), max_length=256, blank=True)
    payment = models.CharField(_("お支払い方法"), max_length=10, choices=Payment)
    wants_membership = models.BooleanField(_("ポータルの会員登録を希望"), default=False)
    # 名義変更: the new holder (name, kana, phone, email above are the current holder's as
    # typed, or the contract's), and why the holder changes.
    new_name = models.CharField(_("新しい名義人のお名前"), max_length=40, blank=True)
    new_name_kana = models.CharField(_("新しい名義人のお名前カナ"), max_length=100, blank=True)
    new_phone = models.CharField(_("新しい名義人の電話番号"), max_length=20, blank=True)
    new_email = models.EmailField(_("新しい名義人のメールアドレス"), max_length=254, blank=True)
    relationship = models.CharField(
        _("名義変更の理由"), max_length=12, choices=Relationship, blank=True
    )
    relationship_note = models.CharField(_("理由(その他)"), max_length=100, blank=True)
    # A move-in's place as compared (a digest of normalize.address of the address and the
    # building): one open move-in per place and day (constraint below). Blank for other kinds.
    place_key = models.CharField(max_length=96, blank=True, default="", editable=False)
    match = models.JSONField(_("契約との照合結果"), default=dict, blank=True)
    # Every item of a guest's move-out matched the contract (a member's own contract and a
    # move-in count as matched). Only matched move-outs hold the contract's one open slot:
    # someone who knows only the number never blocks the holder (issue 21, F1).
    matched = models.BooleanField(_("契約と一致"), default=True, editable=False)
    # The contract the CIS gives a move-in (or the new holder of a 名義変更), typed by staff:
    # once it is in the portal the applicant's membership reaches it (services.reach_contract).
    new_customer_number = models.CharField(
        _("新しいお客様番号"),
        max_length=20,
        blank=True,
        help_text=_(
            "ポータルの会員登録を希望したお申し込みは、完了にするときに入力してください。"
            "その番号の契約がポータルに取り込まれると、会員の契約に追加します"
            "(会員でない方には会員登録のご案内をお送りします)。"
        ),
    )
    new_number_by = models.ForeignKey(
        "accounts.Member",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("番号を入力した職員"),
    )
    reached_at = models.DateTimeField(_("会員の契約に追加・ご案内した日時"), null=True, blank=True)
    staff_note = models.TextField(_("お客さまへの連絡事項"), blank=True)
    handled_by = models.ForeignKey(
        "accounts.Member",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("対応した職員"),
    )
    handled_at = models.DateTimeField(_("対応日時"), null=True, blank=True)
    created_at = models.DateTimeField(_("受付日時"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("引越しの申込み")
        verbose_name_plural = _("引越しの申込み")
        ordering = ["-created_at"]
        constraints = [
            # One matched move-out per contract number and day: a second is a duplicate
            # (a double click, or a household applying twice), refused beside the date.
            # Unmatched guests' applications are not counted (see ``matched``).
            models.UniqueConstraint(
                fields=["utility", "customer_number", "move_date"],
                condition=Q(kind="move_out", matched=True),
                name="move_out_once_per_contract_and_day",
            ),
            models.UniqueConstraint(
                fields=["utility", "customer_number", "move_date"],
                condition=Q(kind="name_change", matched=True),
                name="name_change_once_per_contract_and_day",
            ),
            # Two move-ins of one place and day while the first is open: a double click, or
            # two of a household applying; the form refuses it beside the date, and this keeps
            # two requests at once from both passing that check.
            models.UniqueConstraint(
                fields=["utility", "place_key", "move_date"],
                condition=Q(kind="move_in") & ~Q(status="done"),
                name="move_in_once_per_place_and_day",
            ),
        ]
        indexes = [models.Index(fields=["utility", "status", "move_date"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}"

    def save(self, *args, **kwargs) -> None:
        self.matched = evidence_ok(self.match)
        self.place_key = place_key(self)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            if "match" in update_fields:
                update_fields = {*update_fields, "matched"}
            if {"address", "building"} & set(update_fields):
                update_fields = {*update_fields, "place_key"}
            kwargs["update_fields"] = update_fields
        super().save(*args, **kwargs)

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.DONE

    @property
    def names_contract(self) -> bool:
        """A move-out or a 名義変更: it names an existing contract (matched for staff)."""
        return self.kind in CONTRACT_KINDS

    @property
    def leads_to_contract(self) -> bool:
        """A move-in or a 名義変更 whose applicant asked for a portal membership: staff type
        the contract's number to complete it."""
        return self.wants_membership and self.kind != self.Kind.MOVE_OUT


def place_key(application: MoveApplication) -> str:
    """A move-in's place as compared: one open move-in per place and day."""
    if application.kind != MoveApplication.Kind.MOVE_IN:
        return ""
    return place_key_of(application.address, application.building)


def place_key_of(address: str, building: str) -> str:
    """「金沢市泉野町1丁目1-1」 and 「ハイツ見本 101号室」 as compared (spaces, full-width
    digits and 丁目/番地/号 against hyphens do not make another place). A digest: NFKC may
    lengthen hostile text (「㌀」 is four characters), the key never outgrows its column."""
    place = f"{normalize.address(address)}\n{normalize.address(building)}"
    return hashlib.sha256(place.encode()).hexdigest()


def open_move_ins(utility, key: str, day, exclude_pk: int | None = None):
    """Open move-ins of that place and day (what the constraint allows one of)."""
    found = MoveApplication.objects.filter(
        utility=utility, kind=MoveApplication.Kind.MOVE_IN, place_key=key, move_date=day
    ).exclude(status=MoveApplication.Status.DONE)
    return found.exclude(pk=exclude_pk) if exclude_pk else found


CONTRACT_KINDS = (MoveApplication.Kind.MOVE_OUT, MoveApplication.Kind.NAME_CHANGE)


def evidence_ok(match: dict | None) -> bool:
    """Every item typed matched the contract; no evidence at all is a member's own contract
    (or a move-in, which names no contract)."""
    return not match or all(value for key, value in match.items() if key != "customer_id")


def utility_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """A new utility gets the default settings (both forms offered), for its staff to change."""
    if created or raw:
        MovingSettings.objects.get_or_create(utility=instance)


def handed_over() -> Exists:
    """Annotates a member's contract (joined through ``member_links``) with whether the
    link ended with a completed 名義変更 of it that day (not a 使用中止): how the member's
    forms and moving/ word it."""
    return Exists(
        MoveApplication.objects.filter(
            utility=OuterRef("utility"),
            kind=MoveApplication.Kind.NAME_CHANGE,
            status=MoveApplication.Status.DONE,
            customer_number=OuterRef("number"),
            move_date=OuterRef("member_links__ended_on"),
        )
    )


class MovingText(TextVersion):
    """A moving text (使用中止の説明, 受け付けない日の理由, …) in another language."""

    FIELDS = (
        ("closed_dates", _("受け付けない日")),
        ("move_out_text", _("使用中止の説明")),
        ("move_in_text", _("使用開始の説明")),
        ("name_change_text", _("名義変更の説明")),
    )

    settings = models.ForeignKey(
        MovingSettings,
        on_delete=models.CASCADE,
        related_name="text_versions",
        verbose_name=_("引越しの受付設定"),
    )
    field = models.CharField(_("文章"), max_length=40, choices=FIELDS)

    class Meta(TextVersion.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["settings", "field", "language"], name="one_moving_text_per_language"
            )
        ]

    @property
    def owner(self) -> MovingSettings:
        return self.settings

    def clean(self) -> None:
        """受け付けない日 in another language: the same days, each reason in that language
        (「12/29-1/3 New Year holidays」); the Japanese list decides which days are closed."""
        super().clean()
        if self.field != "closed_dates":
            return
        try:
            given = [rule for rule, _reason in parse_closed_dates(self.text)]
        except ValidationError as exc:
            raise ValidationError({"text": exc.messages}) from exc
        japanese = [rule for rule, _reason in parse_closed_dates(self.settings.closed_dates)]
        if given != japanese:
            raise ValidationError(
                {
                    "text": _(
                        "日本語の「受け付けない日」と同じ日付を同じ順に書き、理由だけを"
                        "この言語にしてください。"
                    )
                }
            )

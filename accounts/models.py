"""Members (the user model), their links to water contracts, email proofs and an audit trail."""

from __future__ import annotations

from axes.models import AccessAttempt
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

SECRET_QUESTIONS = [
    ("food", _("あなたの一番好きな食べ物は何?")),
    ("pet", _("初めて飼ったペットの名前は?")),
    ("school", _("卒業した小学校の名前は?")),
    ("birthplace", _("母親の出身地は?")),
    ("hero", _("子どもの頃のヒーローは?")),
]
REFERRALS = [
    ("slip", _("検針票")),
    ("bulletin", _("市の広報誌")),
    ("website", _("ホームページ")),
    ("friend", _("知人の紹介")),
    ("other", _("その他")),
]


class MemberQuerySet(models.QuerySet):
    def holders(self, utility) -> MemberQuerySet:
        """Residents of ``utility`` who hold their login ID and email address.

        A withdrawn member gives both back (the record stays for staff), so the same
        resident can register again later.
        """
        return self.filter(utility=utility, is_staff=False).exclude(status=Member.Status.WITHDRAWN)


class MemberManager(BaseUserManager.from_queryset(MemberQuerySet)):
    use_in_migrations = True

    def get_by_natural_key(self, login_id: str) -> Member:
        # Natural keys belong to staff only: residents' login IDs repeat across utilities.
        return self.get(is_staff=True, login_id__iexact=login_id)

    def create_user(
        self, login_id: str, email: str = "", password: str | None = None, **extra
    ) -> Member:
        member = self.model(login_id=login_id, email=self.normalize_email(email), **extra)
        member.set_password(password)
        member.save(using=self._db)
        return member

    def create_superuser(
        self, login_id: str, email: str = "", password: str | None = None, **extra
    ) -> Member:
        extra.update(is_staff=True, is_superuser=True, status=Member.Status.ACTIVE)
        return self.create_user(login_id, email, password, **extra)


class Member(AbstractBaseUser, PermissionsMixin):
    """A resident registered with one utility, or a staff member (utility empty: platform staff)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("確認中")
        ACTIVE = "active", _("利用中")
        REJECTED = "rejected", _("否認")
        WITHDRAWN = "withdrawn", _("退会")

    class TaxDeclaration(models.TextChoices):
        YES = "yes", _("有")
        NO = "no", _("無")

    class Relation(models.TextChoices):
        SELF = "self", _("本人")
        FAMILY = "family", _("家族")
        OTHER = "other", _("その他")

    class PaymentMethod(models.TextChoices):
        KEEP = "keep", _("アプリ決済に切り替えない")
        SWITCH = "switch", _("アプリ決済に切り替える")

    utility = models.ForeignKey(
        "portal.Utility",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("事業者"),
        help_text=_("職員の場合は担当する事業者。空欄はポータル全体の管理者です。"),
    )
    login_id = models.CharField(_("ログインID"), max_length=150, blank=True)
    email = models.EmailField(_("メールアドレス"), blank=True)
    name = models.CharField(_("お客さま名"), max_length=100, blank=True)
    name_kana = models.CharField(_("お客様氏名カナ"), max_length=100, blank=True)
    phone = models.CharField(_("連絡先電話番号"), max_length=20, blank=True)
    address = models.CharField(_("住所"), max_length=256, blank=True)
    building = models.CharField(_("建物名・アパート名・部屋番号"), max_length=256, blank=True)
    status = models.CharField(
        _("状態"), max_length=10, choices=Status, default=Status.PENDING, db_index=True
    )
    secret_question = models.CharField(
        _("秘密の質問"), max_length=20, choices=SECRET_QUESTIONS, blank=True
    )
    secret_answer_hash = models.CharField(_("秘密の回答(ハッシュ)"), max_length=256, blank=True)
    tax_declaration = models.CharField(
        _("消費税申告の有無"), max_length=3, choices=TaxDeclaration, blank=True
    )
    referral = models.CharField(_("知ったきっかけ"), max_length=20, choices=REFERRALS, blank=True)
    relation = models.CharField(
        _("申込者と契約者の関係"), max_length=10, choices=Relation, blank=True
    )
    payment_method = models.CharField(
        _("支払方法"), max_length=10, choices=PaymentMethod, blank=True
    )
    signup_customer_number = models.CharField(_("申請時のお客様番号"), max_length=20, blank=True)
    signup_match = models.JSONField(_("契約との照合結果"), default=dict, blank=True)
    reviewed_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("確認した職員"),
    )
    reviewed_at = models.DateTimeField(_("確認日時"), null=True, blank=True)
    rejection_reason = models.TextField(_("否認の理由"), blank=True)
    withdrawn_at = models.DateTimeField(_("退会日時"), null=True, blank=True)
    # Wrong secret answers in a row, and the end of the lockout they caused (shared by
    # every worker because it lives here, not in a process or a session).
    recovery_failures = models.PositiveSmallIntegerField(_("秘密の回答の連続誤り回数"), default=0)
    recovery_locked_until = models.DateTimeField(_("再設定手続きの停止期限"), null=True, blank=True)
    # Which mails the member receives (会員情報 → メールの受け取り); empty: the utility's default.
    # Account mails (signup, reset, changes) always go.
    wants_bill_mail = models.BooleanField(
        _("「今月のご使用量・料金のお知らせ」メール"), null=True, blank=True
    )
    wants_alert_mail = models.BooleanField(_("使用量の異常のお知らせメール"), null=True, blank=True)
    wants_notice_mail = models.BooleanField(_("重要なお知らせのメール"), null=True, blank=True)
    # The language of the switch when last used signed in; their mails are written in it.
    # Empty: never chosen (Japanese, or the page's language for a mail sent from a page).
    language = models.CharField(_("言語"), max_length=10, blank=True, default="")
    is_staff = models.BooleanField(_("職員"), default=False)

    def wants_mail(self, kind: str) -> bool:
        """Whether the member receives ``bill``, ``alert`` or ``notice`` mails."""
        choice = getattr(self, f"wants_{kind}_mail")
        if choice is not None:
            return choice
        return getattr(self.utility, UTILITY_MAIL_DEFAULTS[kind])

    date_joined = models.DateTimeField(_("登録日時"), default=timezone.now)
    contracts = models.ManyToManyField(
        "billing.Customer",
        through="ContractLink",
        through_fields=("member", "customer"),
        related_name="members",
        blank=True,
        verbose_name=_("契約"),
    )

    objects = MemberManager()

    USERNAME_FIELD = "login_id"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        verbose_name = _("会員")
        verbose_name_plural = _("会員")
        ordering = ["utility", "-date_joined"]
        constraints = [
            # Login IDs and emails are unique within a utility among members who have not
            # withdrawn; the same ID in another utility is someone else.
            models.UniqueConstraint(
                "utility",
                Lower("login_id"),
                condition=~Q(login_id="") & Q(is_staff=False) & ~Q(status="withdrawn"),
                name="member_unique_login_id_per_utility",
            ),
            models.UniqueConstraint(
                "utility",
                Lower("email"),
                condition=~Q(email="") & Q(is_staff=False) & ~Q(status="withdrawn"),
                name="member_unique_email_per_utility",
            ),
            # Staff sign in to the admin without a utility in the URL: their IDs are global.
            models.UniqueConstraint(
                Lower("login_id"), condition=Q(is_staff=True), name="member_unique_staff_login_id"
            ),
        ]

    def __str__(self) -> str:
        return self.login_id or self.email

    @property
    def utility_word(self) -> str:
        """The member's utility's word for the customer number (「ポータル登録番号」)."""
        return self.utility.customer_number_label if self.utility_id else str(_("お客様番号"))

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.status == self.Status.ACTIVE

    @property
    def is_resident(self) -> bool:
        return not self.is_staff and self.utility_id is not None


class ContractLink(models.Model):
    """A member's right to see one contract, with who approved it and when."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="contract_links", verbose_name=_("会員")
    )
    customer = models.ForeignKey(
        "billing.Customer",
        on_delete=models.CASCADE,
        related_name="member_links",
        verbose_name=_("契約"),
    )
    approved_by = models.ForeignKey(
        Member,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("承認した職員"),
    )
    approved_at = models.DateTimeField(_("承認日時"), default=timezone.now)
    # The last day the member was the customer (a completed 使用中止): the contract stays in
    # their list, its usage pages showing only the periods that began by then.
    ended_on = models.DateField(_("使用中止日"), null=True, blank=True)
    # The first day the member is the customer (a completed 使用開始 or 名義変更 bringing them
    # an existing number): its usage pages show only the periods that ended from then on.
    started_on = models.DateField(_("使用開始日"), null=True, blank=True)

    class Meta:
        verbose_name = _("契約の紐づけ")
        verbose_name_plural = _("契約の紐づけ")
        constraints = [
            models.UniqueConstraint(fields=["member", "customer"], name="contract_link_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.member} → {self.customer}"

    def save(self, *args, **kwargs) -> None:
        # Every writer (a form, an inline, a service, a shell) passes here: a member may
        # only ever see contracts of its own utility.
        if not self.within_one_utility():
            raise ValidationError(_("この会員の事業者の契約ではありません。"), code="other_utility")
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        if self.member_id and self.customer_id and not self.within_one_utility():
            raise ValidationError(
                {"customer": _("この会員の事業者の契約ではありません。")}, code="other_utility"
            )

    def within_one_utility(self) -> bool:
        return self.member.utility_id is not None and (
            self.member.utility_id == self.customer.utility_id
        )


class ContractRequest(models.Model):
    """A member's request to see one more contract, kept until staff approve or reject it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("確認中")
        APPROVED = "approved", _("承認")
        REJECTED = "rejected", _("否認")
        CANCELLED = "cancelled", _("取消")

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="contract_requests", verbose_name=_("会員")
    )
    customer = models.ForeignKey(
        "billing.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("照合した契約"),
        help_text=_("番号が見つからない場合や別の契約の場合は、正しい契約を選んでください。"),
    )
    customer_number = models.CharField(_("入力されたお客様番号"), max_length=20)
    name = models.CharField(_("入力されたお客さま名"), max_length=100, blank=True)
    name_kana = models.CharField(_("入力されたお客様氏名カナ"), max_length=100, blank=True)
    phone = models.CharField(_("入力された電話番号"), max_length=20, blank=True)
    address = models.CharField(_("入力された住所"), max_length=256, blank=True)
    match = models.JSONField(_("契約との照合結果"), default=dict, blank=True)
    status = models.CharField(
        _("状態"), max_length=10, choices=Status, default=Status.PENDING, db_index=True
    )
    created_at = models.DateTimeField(_("申請日時"), default=timezone.now)
    reviewed_by = models.ForeignKey(
        Member,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("確認した職員"),
    )
    reviewed_at = models.DateTimeField(_("確認日時"), null=True, blank=True)

    class Meta:
        verbose_name = _("契約の追加申請")
        verbose_name_plural = _("契約の追加申請")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.member} → {self.customer_number}"


class EmailChallenge(models.Model):
    """A pending proof that someone reads an address: a hashed link token or code."""

    class Purpose(models.TextChoices):
        SIGNUP = "signup", _("会員登録")
        PASSWORD_RESET = "reset", _("パスワード再設定")
        EMAIL_CHANGE = "email", _("メールアドレス変更")

    utility = models.ForeignKey(
        "portal.Utility", on_delete=models.CASCADE, related_name="email_challenges"
    )
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, null=True, blank=True, related_name="email_challenges"
    )
    purpose = models.CharField(max_length=10, choices=Purpose)
    email = models.EmailField()
    secret_hash = models.CharField(max_length=256)
    expires_at = models.DateTimeField()
    attempts_left = models.PositiveSmallIntegerField(default=5)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("メール確認")
        verbose_name_plural = _("メール確認")
        indexes = [models.Index(fields=["utility", "purpose", "email"])]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.email}"


def japanese_time(moment) -> str:
    """「2026年12月2日 18:25」 in Japan's time, as staff read every time in the admin."""
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


# The utility's default for each of Member.wants_mail's kinds.
UTILITY_MAIL_DEFAULTS = {
    "bill": "mail_bill_ready_default",
    "alert": "mail_alerts_default",
    "notice": "mail_notices_default",
}

# What staff read in the admin for each MemberEvent.action (unknown actions show as stored).
MEMBER_EVENT_LABELS = {
    "signup": _("会員登録"),
    "approved": _("承認"),
    "auto_approved": _("自動承認"),
    "member_cap_reached": _("契約の会員数が上限のため職員の確認待ち"),
    "rejected": _("否認"),
    "contract_chosen": _("照合する契約を選択"),
    "mail_failed": _("メール送信失敗"),
    "recovery_mail_sent": _("再設定メールを送信"),
    "recovery_locked": _("秘密の回答の誤りで再設定を停止"),
    "password_reset": _("パスワード再設定"),
    "password_changed": _("パスワード変更"),
    "email_change_requested": _("メールアドレス変更の確認メールを送信"),
    "email_changed": _("メールアドレス変更"),
    "secret_question_changed": _("秘密の質問と回答を変更"),
    "tax_declaration_changed": _("消費税申告の有無を変更"),
    "name_changed": _("お名前を変更"),
    "mail_choices_changed": _("受け取るメールを変更"),
    "contract_added": _("契約を追加"),
    "contract_requested": _("契約の追加を申請"),
    "contract_request_approved": _("契約の追加を承認"),
    "contract_request_rejected": _("契約の追加を否認"),
    "withdrawn": _("退会"),
    "move_applied": _("引越しの申込み"),
    "contract_ended": _("使用中止により契約の表示を終了"),
    "contract_handed_over": _("名義変更により契約の表示を終了"),
    "edited_by_staff": _("職員が会員情報を変更"),
}


class MemberEvent(models.Model):
    """One change to a member's account: who did what, when. Never holds a secret."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="events", verbose_name=_("会員")
    )
    actor = models.ForeignKey(
        Member,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作した人"),
        help_text=_("空欄はポータルが自動で行った操作です。"),
    )
    action = models.CharField(_("操作"), max_length=40)
    detail = models.JSONField(_("内容"), default=dict, blank=True)
    created_at = models.DateTimeField(_("日時"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("会員の操作履歴")
        verbose_name_plural = _("会員の操作履歴")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{japanese_time(self.created_at)} {self.label}"

    @property
    def label(self) -> str:
        return str(MEMBER_EVENT_LABELS.get(self.action, self.action))


class LoginLock(AccessAttempt):
    """Failed logins as django-axes counts them, shown to staff under 会員 (a proxy: no table)."""

    class Meta:
        proxy = True
        verbose_name = _("ログイン試行")
        verbose_name_plural = _("ログイン試行")

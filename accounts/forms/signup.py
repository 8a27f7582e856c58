"""Signup screens, shared by every utility: the address, the code, the details, the check.

The link style (seed 000) and the code style (seed 003) ask much the same things in
different words and order; ``DETAIL_WORDS`` holds the words, the utility's flags the questions.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib.auth.base_user import BaseUserManager
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal import normalize, words
from portal.models import Utility

from .. import challenges
from ..models import REFERRALS, SECRET_QUESTIONS, Member
from ..tokens import CODE_DIGITS
from ..validators import (
    PASSWORD_RULE_WORDS,
    validate_login_id,
    validate_new_password,
    validate_plain_email,
)

CHOOSE = ("", _("(下記よりお選びください)"))
MASKED_PASSWORD = "********"  # the same whatever the length
AGREED = _("同意する")
SECRET_GROUP = _("秘密の質問と回答")
SECRET_GROUP_NOTE = _("(ログインIDまたはパスワードを忘れた場合に、お尋ねします)")
SECRET_GROUP_FIELDS = ("secret_question", "secret_answer")
ANSWER_KEPT = _("(入力済み)")
ANSWER_UNCHANGED = _("入力済み(変更なし)")
KANA_RE = re.compile(r"^[\u30a1-\u30fa\u30fb\u30fc\uff1d ]+$")  # normalize.kana_name

# The words of each style for the fields both styles ask (seed 000 / seed 003).
DETAIL_WORDS = {
    Utility.Verification.LINK: {
        "name": _("お客さま名"),
        "name_short": _("お客さま名"),
        "name_note": _("(全角40文字以内)"),
        "name_help": _("・検針票等に記載された水道をご使用されている方の氏名を入力してください。"),
        "number_help": _("・検針票等に記載の%(on_slip)sをご確認いただき、入力してください。"),
        "phone": _("連絡先電話番号"),
        "phone_help": _("・[例]03-1234-5678"),
        "password": _("ご希望のパスワード"),
        "password_confirm": _("ご希望のパスワード(確認用)"),
        # The hint on 会員情報 → 契約の追加, where the phone must be the contract's.
        "contract_phone_help": _(
            "・水道の契約で届け出た電話番号を入力してください。[例]03-1234-5678"
        ),
    },
    Utility.Verification.CODE: {
        "name": _("お名前(ニックネームでも登録いただけます)"),
        "name_short": _("お名前"),
        "name_note": "",
        "name_help": _("お知らせの文面等に使用されます。ニックネームでの登録が可能です。"),
        "number_help": _(
            "上下水道料金のお知らせ(検針票)に記載の%(digits)d桁の%(label)sを"
            "ハイフン抜きで入力してください。"
        ),
        "phone": _("電話番号"),
        "phone_help": _(
            "%(office)sに届け出た電話番号の入力となりますので注意してください。"
            "また、ハイフンを除いた数字で入力してください。"
        ),
        "password": _("パスワード"),
        "password_confirm": _("パスワード(確認用)"),
        "contract_phone_help": _(
            "%(office)sに届け出た電話番号の入力となりますので注意してください。"
            "また、ハイフンを除いた数字で入力してください。"
        ),
    },
}
# Seed 003's order on 「2/4 会員情報入力」.
CODE_STYLE_ORDER = [
    "name",
    "password",
    "password_confirm",
    "customer_number",
    "phone",
    "name_kana",
    "agree_terms",
    "agree_privacy",
    "relation",
    "payment_method",
]


class NormalisedEmailField(forms.EmailField):
    """An address typed with full-width letters or spaces is still an address.

    What is not ASCII after NFKC is refused: the portal's addresses are ASCII, so a look-alike
    (``tarı@example.jp``) can never reach a case-insensitive lookup as someone else's.
    """

    default_error_messages = {
        "invalid": _("メールアドレスの形式が正しくありません。"),
        "not_ascii": _("メールアドレスは半角の英数字と記号で入力してください。"),
    }

    def to_python(self, value: str | None) -> str:
        value = normalize.without_spaces(value or "")
        return BaseUserManager.normalize_email(value) if value else ""

    def validate(self, value: str) -> None:
        super().validate(value)
        if value and not value.isascii():
            raise ValidationError(self.error_messages["not_ascii"], code="not_ascii")
        validate_plain_email(value)


class NormalisedCharField(forms.CharField):
    """A text field that normalises with ``normalise`` before any check."""

    def __init__(self, *, normalise=normalize.nfkc, note: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.normalise = normalise
        self.note = note  # shown after the label, as the seed's 「(半角数字14文字)」

    def to_python(self, value: str | None) -> str:
        return self.normalise(super().to_python(value))


def _required(label: str) -> dict:
    return {"required": words.required_message(label)}


def _choose(label: str) -> dict:
    return {"required": words.choose_message(label)}


def _consent(title: str) -> forms.BooleanField:
    field = forms.BooleanField(
        label=AGREED,
        error_messages={
            "required": _("%(title)sをご一読の上、「同意する」にチェックを入れてください。")
            % {"title": title}
        },
    )
    field.title = title  # the legend on ⑤ and the row on the confirmation page
    return field


def checked_customer_number(utility: Utility, number: str) -> str:
    """Return an already normalised number, or refuse one of the wrong length or with non-digits."""
    digits = utility.customer_number_digits
    if not (number.isdigit() and len(number) == digits):
        raise ValidationError(
            _("%(label)sは半角数字%(digits)d桁で入力してください。"),
            code="customer_number_format",
            params={"label": utility.customer_number_label, "digits": digits},
        )
    return number


def checked_phone(phone: str) -> str:
    """Return an already normalised phone number, or refuse what is not 10-11 digits from 0.

    No example here: the field's hint beside the message gives the utility's own (seed 000
    writes 03-1234-5678, seed 003 asks for the digits without hyphens).
    """
    if not (
        phone.isascii() and phone.isdigit() and phone.startswith("0") and 10 <= len(phone) <= 11
    ):
        raise ValidationError(
            _("電話番号は市外局番から10〜11桁の数字で入力してください。"), code="phone_format"
        )
    return phone


def new_password_field(label: str, rule: str) -> forms.CharField:
    """Return a field for a password being chosen, its rule told in the rule's one wording."""
    words = PASSWORD_RULE_WORDS[rule]
    field = forms.CharField(
        label=label,
        strip=False,
        max_length=128,
        help_text=words.listed,
        error_messages=_required(label),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    field.note = words.note
    return field


class SignupEmailForm(forms.Form):
    email = NormalisedEmailField(
        label=_("メールアドレス"),
        max_length=254,
        error_messages=_required(_("メールアドレス")),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    email_confirm = NormalisedEmailField(
        label=_("メールアドレス (確認用)"),
        max_length=254,
        error_messages={"required": _("確認のため、メールアドレスをもう一度入力してください。")},
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    agree_terms = forms.BooleanField(
        label=_("ご利用規約に同意する"),
        error_messages={
            "required": _(
                "ご利用規約に同意いただける場合は「ご利用規約に同意する」をチェックしてください。"
            )
        },
    )

    def clean(self) -> dict:
        data = super().clean()
        email, again = data.get("email"), data.get("email_confirm")
        if email and again and email.casefold() != again.casefold():
            self.add_error(
                "email_confirm",
                ValidationError(
                    _("メールアドレスとメールアドレス (確認用) が一致しません。"),
                    code="email_mismatch",
                ),
            )
        return data


def contract_fields(utility: Utility) -> dict[str, forms.Field]:
    """Return the fields that identify a contract, as the utility's signup asks them.

    Signup's details step and 会員情報 → 契約の追加 both ask these (one set per utility:
    Kanazawa ⑥ number, name, address, phone; Nayoro 2/4 number, phone, kana). A name that
    is a nickname identifies nothing, so it is not among them.
    """
    u, words = utility, DETAIL_WORDS[utility.verification]
    label = u.customer_number_label
    fields: dict[str, forms.Field] = {
        "customer_number": NormalisedCharField(
            label=label,
            note=_("(半角数字%(digits)d文字)") % {"digits": u.customer_number_digits},
            normalise=normalize.digits,
            max_length=40,
            help_text=words["number_help"]
            % {
                "label": label,
                "digits": u.customer_number_digits,
                "on_slip": u.customer_number_on_slip or label,
            },
            error_messages=_required(label),
            widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        ),
    }
    if not u.name_is_nickname:
        fields["name"] = _name_field(words)
    if u.asks_kana:
        fields["name_kana"] = NormalisedCharField(
            label=_("お客様氏名カナ"),
            normalise=normalize.kana_name,
            max_length=100,
            help_text=_("%(office)sに届け出た契約者名をカタカナで入力してください。")
            % {"office": u.office_name},
            error_messages=_required(_("お客様氏名カナ")),
        )
    if u.asks_address:
        fields["address"] = NormalisedCharField(
            label=_("住所(市町村名・番地)"),
            normalise=normalize.address_to_keep,
            note=_("(全角256文字以内)"),
            max_length=256,
            help_text=_("・[例]〇〇市△△町1500-1"),
            error_messages={
                **_required(_("住所")),
                "max_length": _("住所は256文字以内で入力してください。"),
            },
            widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
        )
    fields["phone"] = NormalisedCharField(
        label=words["phone"],
        normalise=normalize.phone,
        max_length=30,
        help_text=words["phone_help"] % {"office": u.office_name},
        error_messages=_required(words["phone"]),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
    return fields


def _name_field(words: dict) -> forms.CharField:
    return NormalisedCharField(
        label=words["name"],
        note=words["name_note"],
        max_length=40,
        help_text=words["name_help"],
        error_messages={
            **_required(words["name_short"]),
            "max_length": _("%(label)sは40文字以内で入力してください。")
            % {"label": words["name_short"]},
        },
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )


def checked_kana(kana: str) -> str:
    """Return kana already made katakana, or refuse what is not kana."""
    if not KANA_RE.match(kana):
        raise ValidationError(
            _("お客様氏名カナはカタカナで入力してください(ひらがなも使えます)。"),
            code="kana_format",
        )
    return kana


class SignupDetailsForm(forms.Form):
    """The details (seed 000 ⑥, seed 003 ⑤); fields follow the utility's settings."""

    secret_group_note = SECRET_GROUP_NOTE
    CUSTOMER_SECTION = [
        "customer_number",
        "name",
        "name_kana",
        "address",
        "building",
        "phone",
        "relation",
        "payment_method",
    ]

    def __init__(
        self, *args, utility: Utility, email: str, answer_kept: bool = False, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.utility = utility
        self.email = email
        self.answer_kept = answer_kept  # a secret answer typed before: empty keeps it
        self.words = DETAIL_WORDS[utility.verification]
        self.fields.update(self._customer_fields())
        self.fields.update(self._login_fields())
        self.fields.update(self._consent_fields())
        if utility.verification == Utility.Verification.CODE:
            self.order_fields(CODE_STYLE_ORDER)

    def _customer_fields(self) -> dict[str, forms.Field]:
        u, words = self.utility, self.words
        fields = contract_fields(u)
        fields.setdefault("name", _name_field(words))  # a nickname (seed 003) is asked too
        if u.asks_address:
            fields["building"] = NormalisedCharField(
                label=_("建物名・アパート名・部屋番号"),
                note=_("(全角256文字以内)"),
                max_length=256,
                required=False,
                help_text=_("・[例]△△アパート101号室"),
                error_messages={
                    "max_length": _("建物名・アパート名・部屋番号は256文字以内で入力してください。")
                },
            )
        fields = {name: fields[name] for name in self.CUSTOMER_SECTION if name in fields}
        if u.asks_relation:
            fields["relation"] = forms.ChoiceField(
                label=_("申込者と契約者の関係"),
                choices=Member.Relation.choices,
                initial=Member.Relation.SELF,
                widget=forms.RadioSelect,
                help_text=_("申込者様と契約者様の関係を選択してください。"),
                error_messages=_choose(_("申込者と契約者の関係")),
            )
        if u.asks_payment_method:
            fields["payment_method"] = forms.ChoiceField(
                label=_("支払方法"),
                choices=Member.PaymentMethod.choices,
                initial=Member.PaymentMethod.KEEP,
                widget=forms.RadioSelect,
                help_text=_(
                    "ご希望を承るだけで、この画面でお支払いの手続きが行われることはありません。"
                ),
                error_messages=_choose(_("支払方法")),
            )
        return fields

    def _consent_fields(self) -> dict[str, forms.Field]:
        u = self.utility
        fields: dict[str, forms.Field] = {}
        # The link style has the terms on its email step (seed 000 ③); the code style here.
        if u.verification == Utility.Verification.CODE:
            fields["agree_terms"] = _consent(_("利用規約"))
        if u.asks_privacy_consent:
            fields["agree_privacy"] = _consent(_("個人情報の取り扱いについて"))
        return fields

    def _login_fields(self) -> dict[str, forms.Field]:
        u = self.utility
        fields: dict[str, forms.Field] = {}
        if not u.logs_in_with_email:
            fields["login_id"] = NormalisedCharField(
                label=_("ご希望のログインID"),
                note=_("(半角英数6〜16文字 ※記号以外)"),
                normalise=normalize.identifier,
                max_length=40,
                help_text=_(
                    "・ご希望のログインIDを既に他のお客さまが使用されている場合は登録できません。"
                ),
                error_messages=_required(_("ご希望のログインID")),
                widget=forms.TextInput(
                    attrs={"autocomplete": "username", "autocapitalize": "none"}
                ),
            )
        fields["password"] = new_password_field(self.words["password"], u.password_rule)
        fields["password_confirm"] = forms.CharField(
            label=self.words["password_confirm"],
            strip=False,
            max_length=128,
            error_messages={"required": _("確認のため、パスワードをもう一度入力してください。")},
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        )
        fields["password_confirm"].note = _("(確認のため、もう一度入力してください)")
        if u.asks_secret_question:
            # Seed 000 ⑥: one group 「秘密の質問と回答」 holding 質問 and 回答 (SECRET_GROUP).
            fields["secret_question"] = forms.ChoiceField(
                label=_("質問"),
                choices=[CHOOSE, *SECRET_QUESTIONS],
                error_messages=_choose(_("秘密の質問")),
            )
            fields["secret_answer"] = NormalisedCharField(
                label=_("回答"),
                max_length=40,
                error_messages={
                    **_required(_("秘密の質問の回答")),
                    "max_length": _("回答は40文字以内で入力してください。"),
                },
                widget=forms.TextInput(attrs={"autocomplete": "off"}),
            )
            if self.answer_kept:
                answer = fields["secret_answer"]
                answer.required = False
                answer.note = ANSWER_KEPT
                answer.help_text = _(
                    "・回答は入力済みです(表示していません)。"
                    "変更する場合のみ、新しい回答を入力してください。"
                )
        if u.asks_tax_declaration:
            fields["tax_declaration"] = forms.ChoiceField(
                label=_("消費税申告の有無"),
                choices=[CHOOSE, *Member.TaxDeclaration.choices],
                error_messages=_choose(_("消費税申告の有無")),
            )
            fields["tax_declaration"].note = _("(※適格請求書関連の質問です)")
        if u.asks_referral:
            label = _("%(portal)sを知ったきっかけ") % {"portal": u.portal_name}
            fields["referral"] = forms.ChoiceField(
                label=label, choices=[CHOOSE, *REFERRALS], error_messages=_choose(label)
            )
        return fields

    @property
    def customer_section(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name in self.CUSTOMER_SECTION]

    @property
    def login_section(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name not in self.CUSTOMER_SECTION]

    @property
    def login_groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        """The login section as seed 000 ⑥ lays it out: single fields, and the secret
        question and answer together under one legend (``""``: no legend)."""
        groups: list[tuple[str, list[forms.BoundField]]] = []
        for bound in self.login_section:
            if bound.name in SECRET_GROUP_FIELDS:
                if not groups or groups[-1][0] != SECRET_GROUP:
                    groups.append((SECRET_GROUP, []))
                groups[-1][1].append(bound)
            else:
                groups.append(("", [bound]))
        return groups

    def clean_customer_number(self) -> str:
        return checked_customer_number(self.utility, self.cleaned_data["customer_number"])

    def clean_phone(self) -> str:
        return checked_phone(self.cleaned_data["phone"])

    def clean_name_kana(self) -> str:
        return checked_kana(self.cleaned_data["name_kana"])

    def clean_login_id(self) -> str:
        login_id = self.cleaned_data["login_id"]
        validate_login_id(login_id)
        taken = Member.objects.holders(self.utility).filter(login_id__iexact=login_id).exists()
        if taken:
            raise ValidationError(login_id_taken_message(), code="login_id_taken")
        return login_id

    def clean(self) -> dict:
        data = super().clean()
        password, again = data.get("password"), data.get("password_confirm")
        if password and again and password != again:
            self.add_error(
                "password_confirm",
                ValidationError(
                    _("%(password)sと%(again)sが一致しません。"),
                    code="password_mismatch",
                    params={
                        "password": self.words["password"],
                        "again": self.words["password_confirm"],
                    },
                ),
            )
        if password and "password" not in self.errors:
            candidate = Member(
                utility=self.utility,
                login_id=data.get("login_id", ""),
                email=self.email,
                name=data.get("name", ""),
            )
            try:
                validate_new_password(password, candidate)
            except ValidationError as exc:
                self.add_error("password", exc)
        return data

    def add_login_id_taken(self) -> None:
        """Show the login-ID clash found at 本会員申請 on a refilled, unchecked form."""
        if not hasattr(self, "cleaned_data"):
            self.cleaned_data = {}
        self.add_error("login_id", ValidationError(login_id_taken_message(), code="login_id_taken"))

    def to_session(self) -> dict:
        """Return the cleaned answers as plain strings for the session."""
        return {name: str(value) for name, value in self.cleaned_data.items()}

    def confirmation_list(self, values: dict | None = None) -> list[tuple[str, str]]:
        """Return (label, shown value) in the form's order, the password masked.

        ``values`` are kept answers (the 「登録」 refusal page); by default the cleaned ones.
        """
        values = self.cleaned_data if values is None else values
        return [
            (str(getattr(bound.field, "title", bound.label)), self._shown(bound, values))
            for bound in self
            if bound.name != "password_confirm"
        ]

    def confirmation_rows(self) -> list[tuple[str, list[tuple[str, str, str]]]]:
        """Return the answers as shown on seed 000 ⑦, by section, with the password masked."""
        shown = [name for name in self.fields if name != "password_confirm"]
        listed = dict(zip(shown, self.confirmation_list(), strict=True))

        def row(bound: forms.BoundField) -> tuple[str, str, str]:
            label, value = listed[bound.name]
            note = getattr(bound.field, "note", "")
            return (f"{label} {note}" if note else label, value, str(bound.help_text or ""))

        login_rows = []
        for bound in self.login_section:
            if bound.name == "secret_question":  # seed 000 ⑦: 質問 and 回答 in one row
                pair = "\n".join(f"{self[n].label} {listed[n][1]}" for n in SECRET_GROUP_FIELDS)
                login_rows.append((f"{SECRET_GROUP} {SECRET_GROUP_NOTE}", pair, ""))
            elif bound.name in listed and bound.name not in SECRET_GROUP_FIELDS:
                login_rows.append(row(bound))
        return [
            (str(_("お客さま情報の入力")), [row(b) for b in self.customer_section]),
            (str(_("ログイン情報の入力")), login_rows),
        ]

    def _shown(self, bound: forms.BoundField, values: dict) -> str:
        value = values.get(bound.name, "")
        if bound.name == "password":
            return MASKED_PASSWORD
        if bound.name == "secret_answer" and not value and self.answer_kept:
            return str(ANSWER_UNCHANGED)
        if isinstance(bound.field, forms.BooleanField):
            return str(AGREED) if value in (True, "True") else ""
        if isinstance(bound.field, forms.ChoiceField):
            return str(dict(bound.field.choices).get(value, ""))
        return value


class SignupCodeEmailForm(forms.Form):
    """Seed 003 ② 「1/4 メールアドレス登録」: the address only."""

    email = NormalisedEmailField(
        label=_("メールアドレス"),
        max_length=254,
        error_messages=_required(_("メールアドレス")),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class EmailCodeForm(forms.Form):
    """Seed 003 ④: the code from the mail (full-width digits and spaces accepted)."""

    code = NormalisedCharField(
        label=_("認証コード"),
        normalise=normalize.digits,
        max_length=20,
        error_messages=_required(_("認証コード")),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"]
        if not (code.isdigit() and len(code) == CODE_DIGITS):
            raise ValidationError(
                _("認証コードはメールに記載された6桁の数字で入力してください。"),
                code="code_format",
            )
        return code

    def add_refusal(self, refusal: challenges.ChallengeError, utility: Utility) -> None:
        """Show why a typed code was refused: wrong (tries left), replaced, expired, or dead."""
        if isinstance(refusal, challenges.CodeWrong):
            text = _(
                "認証コードが正しくありません。あと%(left)d回間違えると、"
                "この認証コードは使えなくなります。"
            ) % {"left": refusal.attempts_left}
            code = "code_wrong"
        elif isinstance(refusal, challenges.ChallengeUsed):
            text = _(
                "この認証コードは、既に使われたか、その後に新しい認証コードをお送りしたため、"
                "使えなくなりました。「メールが届かない場合はこちら」から新しい認証コードを"
                "送信してください。"
            )
            code = "code_replaced"
        elif isinstance(refusal, challenges.ChallengeExpired):
            text = _(
                "認証コードの有効期限が切れています。「メールが届かない場合はこちら」"
                "から新しい認証コードを送信してください。"
            )
            code = "code_expired"
        else:
            text = _(
                "認証コードを%(tries)d回間違えたため、この認証コードは使えなくなりました。"
                "「メールが届かない場合はこちら」から新しい認証コードを送信してください。"
            ) % {"tries": utility.code_attempts}
            code = "code_dead"
        self.add_error("code", ValidationError(text, code=code))


# What the code pages show next to the field rather than as a page of their own.
CODE_REFUSALS = (
    challenges.CodeWrong,
    challenges.ChallengeUsed,
    challenges.ChallengeExpired,
    challenges.CodeDead,
)


def mismatch_messages(utility: Utility, problems: list[str]) -> list[str]:
    """Return the bullets of seed 003's 「該当する契約が見つかりませんでした。」.

    An unknown number gets the guide's own 「・お客様番号が存在しません。」: it tells no more than
    that no contract has that number, which the slip in the resident's hand settles anyway.
    A known number with a wrong phone or name gets one bullet naming both, whichever was
    wrong: a bullet per field would confirm to anyone trying that the other one belongs to
    that contract (issue 15 review, finding 2).
    """
    if "number" in problems:
        return [str(_("%(label)sが存在しません。") % {"label": utility.customer_number_label})]
    name = _("お客様氏名カナ") if utility.asks_kana else _("お客さま名")
    return [
        str(
            _("%(phone)sまたは%(name)sが、%(office)sに届け出た内容と一致しません。")
            % {"phone": _("電話番号"), "name": name, "office": utility.office_name}
        )
    ]


def login_id_taken_message() -> str:
    return str(_("このログインIDは既に使用されています"))

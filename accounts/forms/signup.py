"""Signup screens: ③ the address and terms, ⑥ the details (shared by every utility)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal import normalize
from portal.models import Utility

from ..models import REFERRALS, SECRET_QUESTIONS, Member
from ..validators import validate_login_id

CHOOSE = ("", _("(下記よりお選びください)"))
PASSWORD_NOTES = {
    Utility.PasswordRule.LOWER_ALNUM: _("(半角小文字英数混在8~16文字 ※記号以外)"),
    Utility.PasswordRule.MIXED_SYMBOL: _(
        "(半角英数字8文字以上。アルファベット大文字、小文字、数字、記号(!?#$&()-_)のすべてを含む)"
    ),
    Utility.PasswordRule.STANDARD: _("(8~64文字)"),
}
MASKED_PASSWORD = "********"  # the same whatever the length


class NormalisedEmailField(forms.EmailField):
    """An address typed with full-width letters or spaces is still an address."""

    default_error_messages = {"invalid": _("メールアドレスの形式が正しくありません。")}

    def to_python(self, value: str | None) -> str:
        value = normalize.without_spaces(value or "")
        return BaseUserManager.normalize_email(value) if value else ""


class NormalisedCharField(forms.CharField):
    """A text field that normalises with ``normalise`` before any check."""

    def __init__(self, *, normalise=normalize.nfkc, note: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.normalise = normalise
        self.note = note  # shown after the label, as the seed's 「(半角数字14文字)」

    def to_python(self, value: str | None) -> str:
        return self.normalise(super().to_python(value))


def _required(label: str) -> dict:
    return {"required": _("%(label)sを入力してください。") % {"label": label}}


def _choose(label: str) -> dict:
    return {"required": _("%(label)sを選んでください。") % {"label": label}}


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


class SignupDetailsForm(forms.Form):
    """⑥ お客さま情報の入力 and ログイン情報の入力; fields follow the utility's settings."""

    CUSTOMER_SECTION = ["customer_number", "name", "name_kana", "address", "building", "phone"]

    def __init__(self, *args, utility: Utility, email: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.utility = utility
        self.email = email
        self.fields.update(self._customer_fields())
        self.fields.update(self._login_fields())

    def _customer_fields(self) -> dict[str, forms.Field]:
        u = self.utility
        label = u.customer_number_label
        fields: dict[str, forms.Field] = {
            "customer_number": NormalisedCharField(
                label=label,
                note=_("(半角数字%(digits)d文字)") % {"digits": u.customer_number_digits},
                normalise=normalize.digits,
                max_length=40,
                help_text=_("・検針票等に記載の%(label)sをご確認いただき、入力してください。")
                % {"label": label},
                error_messages=_required(label),
                widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
            ),
            "name": NormalisedCharField(
                label=_("お客さま名"),
                note=_("(全角40文字以内)"),
                max_length=40,
                help_text=_(
                    "・検針票等に記載された水道をご使用されている方の氏名を入力してください。"
                ),
                error_messages={
                    **_required(_("お客さま名")),
                    "max_length": _("お客さま名は40文字以内で入力してください。"),
                },
                widget=forms.TextInput(attrs={"autocomplete": "name"}),
            ),
        }
        if u.asks_kana:
            fields["name_kana"] = NormalisedCharField(
                label=_("お客様氏名カナ"),
                normalise=normalize.katakana,
                max_length=100,
                error_messages=_required(_("お客様氏名カナ")),
            )
        if u.asks_address:
            fields["address"] = NormalisedCharField(
                label=_("住所(市町村名・番地)"),
                note=_("(全角256文字以内)"),
                max_length=256,
                help_text=_("・[例]〇〇市△△町1500-1"),
                error_messages={
                    **_required(_("住所")),
                    "max_length": _("住所は256文字以内で入力してください。"),
                },
                widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
            )
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
        fields["phone"] = NormalisedCharField(
            label=_("連絡先電話番号"),
            normalise=normalize.digits,
            max_length=30,
            help_text=_("・[例]03-1234-5678"),
            error_messages=_required(_("連絡先電話番号")),
            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
        )
        return fields

    def _login_fields(self) -> dict[str, forms.Field]:
        u = self.utility
        fields: dict[str, forms.Field] = {}
        if not u.logs_in_with_email:
            fields["login_id"] = NormalisedCharField(
                label=_("ご希望のログインID"),
                note=_("(半角英数6~16文字 ※記号以外)"),
                normalise=normalize.login_id,
                max_length=40,
                help_text=_(
                    "・ご希望のログインIDを既に他のお客さまが使用されている場合は登録できません。"
                ),
                error_messages=_required(_("ご希望のログインID")),
                widget=forms.TextInput(
                    attrs={"autocomplete": "username", "autocapitalize": "none"}
                ),
            )
        fields["password"] = forms.CharField(
            label=_("ご希望のパスワード"),
            strip=False,
            max_length=128,
            error_messages=_required(_("ご希望のパスワード")),
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        )
        fields["password"].note = PASSWORD_NOTES[u.password_rule]
        fields["password_confirm"] = forms.CharField(
            label=_("ご希望のパスワード(確認用)"),
            strip=False,
            max_length=128,
            error_messages={"required": _("確認のため、パスワードをもう一度入力してください。")},
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        )
        fields["password_confirm"].note = _("(確認のため、もう一度入力してください)")
        if u.asks_secret_question:
            fields["secret_question"] = forms.ChoiceField(
                label=_("秘密の質問"),
                choices=[CHOOSE, *SECRET_QUESTIONS],
                help_text=_("ログインIDまたはパスワードを忘れた場合に、お尋ねします。"),
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

    def clean_customer_number(self) -> str:
        number = self.cleaned_data["customer_number"]
        digits = self.utility.customer_number_digits
        if not (number.isdigit() and len(number) == digits):
            raise ValidationError(
                _("%(label)sは半角数字%(digits)d桁で入力してください。"),
                code="customer_number_format",
                params={"label": self.utility.customer_number_label, "digits": digits},
            )
        return number

    def clean_phone(self) -> str:
        phone = self.cleaned_data["phone"]
        if not (phone.isdigit() and phone.startswith("0") and 10 <= len(phone) <= 11):
            raise ValidationError(
                _("電話番号は市外局番から10〜11桁の数字で入力してください(例: 03-1234-5678)。"),
                code="phone_format",
            )
        return phone

    def clean_login_id(self) -> str:
        login_id = self.cleaned_data["login_id"]
        validate_login_id(login_id)
        taken = Member.objects.filter(
            utility=self.utility, is_staff=False, login_id__iexact=login_id
        ).exists()
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
                    _("ご希望のパスワードとご希望のパスワード(確認用)が一致しません。"),
                    code="password_mismatch",
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
                validate_password(password, candidate)
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

    def confirmation_rows(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Return the answers as shown on ⑦, by section, with the password masked."""
        sections = []
        for title, bound_fields in (
            (_("お客さま情報"), self.customer_section),
            (_("ログイン情報"), self.login_section),
        ):
            rows = []
            for bound in bound_fields:
                if bound.name == "password_confirm":
                    continue
                rows.append((str(bound.label), self._shown(bound)))
            sections.append((str(title), rows))
        return sections

    def _shown(self, bound: forms.BoundField) -> str:
        value = self.cleaned_data.get(bound.name, "")
        if bound.name == "password":
            return MASKED_PASSWORD
        if isinstance(bound.field, forms.ChoiceField):
            return str(dict(bound.field.choices).get(value, ""))
        return value


def login_id_taken_message() -> str:
    return str(_("このログインIDは既に使用されています"))

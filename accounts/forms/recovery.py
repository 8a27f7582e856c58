"""Recovery screens: the details, the secret answer, the address, the code, the new password."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal import normalize, words
from portal.models import Utility

from ..models import Member
from ..validators import validate_new_password
from .signup import (
    NormalisedCharField,
    NormalisedEmailField,
    checked_customer_number,
    new_password_field,
)


def _required(label: str) -> dict:
    return {"required": words.required_message(label)}


def email_field(label: str = _("メールアドレス")) -> NormalisedEmailField:
    return NormalisedEmailField(
        label=label,
        max_length=254,
        error_messages=_required(label),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class RecoveryIdentifyForm(forms.Form):
    """The registered address and a contract's number (secret-question utilities)."""

    email = email_field(_("ご登録のメールアドレス"))

    def __init__(self, *args, utility: Utility, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.utility = utility
        label = utility.customer_number_label
        self.fields["customer_number"] = NormalisedCharField(
            label=label,
            note=_("(半角数字%(digits)d文字)") % {"digits": utility.customer_number_digits},
            normalise=normalize.digits,
            max_length=40,
            help_text=_("・検針票等に記載の%(label)sを入力してください。") % {"label": label},
            error_messages=_required(label),
            widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        )

    def clean_customer_number(self) -> str:
        return checked_customer_number(self.utility, self.cleaned_data["customer_number"])


class SecretAnswerForm(forms.Form):
    answer = NormalisedCharField(
        label=_("回答"),
        max_length=40,
        error_messages={
            **_required(_("秘密の質問の回答")),
            "max_length": _("回答は40文字以内で入力してください。"),
        },
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class PasswordResetEmailForm(forms.Form):
    """The address of an email-login member (「パスワードを忘れた場合」)."""

    email = email_field()


class NewPasswordForm(forms.Form):
    """A new password under the utility's rule, typed twice."""

    def __init__(self, *args, member: Member, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.member = member
        self.fields["password"] = new_password_field(
            _("新しいパスワード"), member.utility.password_rule
        )
        self.fields["password_confirm"] = forms.CharField(
            label=_("新しいパスワード(確認用)"),
            strip=False,
            max_length=128,
            error_messages={"required": _("確認のため、パスワードをもう一度入力してください。")},
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        )
        self.fields["password_confirm"].note = _("(確認のため、もう一度入力してください)")

    @property
    def password_fields(self) -> list[forms.BoundField]:
        return [self["password"], self["password_confirm"]]

    def clean(self) -> dict:
        data = super().clean()
        password, again = data.get("password"), data.get("password_confirm")
        if password and again and password != again:
            self.add_error(
                "password_confirm",
                ValidationError(
                    _("新しいパスワードと新しいパスワード(確認用)が一致しません。"),
                    code="password_mismatch",
                ),
            )
        if password and "password" not in self.errors:
            try:
                validate_new_password(password, self.member)
            except ValidationError as exc:
                self.add_error("password", exc)
        return data

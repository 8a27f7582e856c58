"""会員情報 screens: one form per change."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal import words
from portal.models import Utility

from ..models import SECRET_QUESTIONS, Member
from .recovery import NewPasswordForm, email_field
from .signup import (
    CHOOSE,
    CODE_STYLE_ORDER,
    DETAIL_WORDS,
    NormalisedCharField,
    checked_customer_number,
    checked_kana,
    checked_phone,
    contract_fields,
)


def _required(label: str) -> dict:
    return {"required": words.required_message(label)}


class CurrentPasswordMixin:
    """Adds 「現在のパスワード」 and checks it against the member."""

    member: Member

    def add_current_password(self) -> None:
        self.fields["current_password"] = forms.CharField(
            label=_("現在のパスワード"),
            strip=False,
            max_length=128,
            error_messages=_required(_("現在のパスワード")),
            widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        )

    def clean_current_password(self) -> str:
        password = self.cleaned_data["current_password"]
        if not self.member.check_password(password):
            raise ValidationError(_("現在のパスワードが正しくありません。"), code="wrong_password")
        return password


class PasswordChangeForm(CurrentPasswordMixin, NewPasswordForm):
    def __init__(self, *args, member: Member, **kwargs) -> None:
        super().__init__(*args, member=member, **kwargs)
        self.add_current_password()
        self.order_fields(["current_password", "password", "password_confirm"])


class EmailChangeForm(CurrentPasswordMixin, forms.Form):
    """The new address twice, and the current password: the address is where recovery mails
    go, so moving it asks what 退会 asks (an unlocked session alone is not enough)."""

    new_email = email_field(_("新しいメールアドレス"))
    new_email_confirm = email_field(_("新しいメールアドレス (確認用)"))

    def __init__(self, *args, member: Member, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.member = member
        self.fields["new_email_confirm"].widget.attrs["autocomplete"] = "off"
        self.add_current_password()
        self.order_fields(["current_password", "new_email", "new_email_confirm"])

    def clean(self) -> dict:
        data = super().clean()
        email, again = data.get("new_email"), data.get("new_email_confirm")
        if email and again and email.casefold() != again.casefold():
            self.add_error(
                "new_email_confirm",
                ValidationError(
                    _("新しいメールアドレスと確認用のメールアドレスが一致しません。"),
                    code="email_mismatch",
                ),
            )
        elif email and email.casefold() == self.member.email.casefold():
            self.add_error(
                "new_email",
                ValidationError(
                    _("現在ご登録のメールアドレスと同じです。"), code="email_unchanged"
                ),
            )
        return data


class SecretQuestionForm(CurrentPasswordMixin, forms.Form):
    secret_question = forms.ChoiceField(
        label=_("秘密の質問"),
        choices=[CHOOSE, *SECRET_QUESTIONS],
        help_text=_("ログインIDまたはパスワードを忘れた場合に、お尋ねします。"),
        error_messages={"required": _("秘密の質問を選んでください。")},
    )
    secret_answer = NormalisedCharField(
        label=_("回答"),
        max_length=40,
        error_messages={
            **_required(_("秘密の質問の回答")),
            "max_length": _("回答は40文字以内で入力してください。"),
        },
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, member: Member, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.member = member
        self.add_current_password()


class NameForm(forms.Form):
    name = NormalisedCharField(
        label=_("お名前(ニックネームでも登録いただけます)"),
        max_length=40,
        help_text=_("お知らせの文面等に使用されます。ニックネームでの登録が可能です。"),
        error_messages={
            "required": _("お名前を入力してください。"),
            "max_length": _("お名前は40文字以内で入力してください。"),
        },
        widget=forms.TextInput(attrs={"autocomplete": "nickname"}),
    )


class TaxDeclarationForm(forms.Form):
    tax_declaration = forms.ChoiceField(
        label=_("消費税申告の有無"),
        choices=Member.TaxDeclaration.choices,
        widget=forms.RadioSelect,
        help_text=_("※適格請求書関連の質問です"),
        error_messages={"required": _("消費税申告の有無を選んでください。")},
    )


class MailChoicesForm(forms.Form):
    """Which mails the member receives; account mails (signup, reset, changes) always go."""

    wants_bill_mail = forms.BooleanField(
        label=_("今月のご使用量・料金のお知らせ(検針のたび)"), required=False
    )
    wants_alert_mail = forms.BooleanField(
        label=_("水漏れの可能性など、使用量の異常のお知らせ"), required=False
    )
    wants_notice_mail = forms.BooleanField(
        label=_("断水・工事などの重要なお知らせ"), required=False
    )


class ContractAddForm(forms.Form):
    """What the utility's signup identifies a contract by, matched against the contract."""

    def __init__(self, *args, utility: Utility, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.utility = utility
        self.fields.update(contract_fields(utility))
        phone = self.fields["phone"]
        # Signup's Kanazawa phone is any contact number; here it must be the contract's.
        phone.help_text = DETAIL_WORDS[utility.verification]["contract_phone_help"] % {
            "office": utility.office_name
        }
        if utility.verification == Utility.Verification.CODE:
            self.order_fields(CODE_STYLE_ORDER)

    def clean_customer_number(self) -> str:
        return checked_customer_number(self.utility, self.cleaned_data["customer_number"])

    def clean_phone(self) -> str:
        return checked_phone(self.cleaned_data["phone"])

    def clean_name_kana(self) -> str:
        return checked_kana(self.cleaned_data["name_kana"])


class WithdrawForm(CurrentPasswordMixin, forms.Form):
    def __init__(self, *args, member: Member, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.member = member
        self.add_current_password()

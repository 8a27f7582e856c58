"""One form per screen; forms validate and normalise, services do the work."""

from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from portal import normalize
from portal.models import Utility

from ..models import Member
from ..validators import validate_plain_email

STATUS_MESSAGES = {
    Member.Status.PENDING: _(
        "現在、登録内容を確認中です。「ご使用量等の確認についてのご案内」メールが届くまでお待ちください。"
    ),
    Member.Status.REJECTED: _(
        "この会員登録は承認されませんでした。詳しくはお問い合わせ先へご連絡ください。"
    ),
    Member.Status.WITHDRAWN: _("この会員は退会済みのため、ログインできません。"),
}


class LoginForm(forms.Form):
    identifier = forms.CharField(max_length=254)
    password = forms.CharField(max_length=128, strip=False, widget=forms.PasswordInput)
    remember_id = forms.BooleanField(label=_("次回からIDの入力を省略"), required=False)

    error_messages = {
        "invalid": _("%(identifier)sまたはパスワードが正しくありません。"),
    }

    def __init__(self, *args, request: HttpRequest, utility: Utility, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.utility = utility
        self.member: Member | None = None
        identifier = self.fields["identifier"]
        if utility.logs_in_with_email:
            identifier.label = _("メールアドレス")
            identifier.widget = forms.EmailInput(attrs={"autocomplete": "email"})
        else:
            identifier.label = _("ログインID")
            identifier.widget.attrs.update(autocomplete="username", autocapitalize="none")
        identifier.error_messages["required"] = _("%(label)sを入力してください。") % {
            "label": identifier.label
        }
        self.fields["password"].label = _("パスワード")
        self.fields["password"].error_messages["required"] = _("パスワードを入力してください。")
        self.fields["password"].widget.attrs["autocomplete"] = "current-password"
        if not utility.offers_remember_id:
            del self.fields["remember_id"]

    def clean_identifier(self) -> str:
        identifier = self.cleaned_data["identifier"]
        if self.utility.logs_in_with_email:
            validate_plain_email(normalize.identifier(identifier))
        return identifier

    def clean(self) -> dict:
        data = super().clean()
        identifier, password = data.get("identifier"), data.get("password")
        if not identifier or not password:
            return data
        member = authenticate(
            self.request, utility=self.utility, username=identifier, password=password
        )
        if member is None:
            raise ValidationError(
                self.error_messages["invalid"],
                code="invalid",
                params={"identifier": self.fields["identifier"].label},
            )
        if not member.is_active:
            raise ValidationError(STATUS_MESSAGES[member.status], code=member.status)
        self.member = member
        return data

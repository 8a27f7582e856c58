"""Forms of the resident's billing pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.validators import validate_plain_email


class WebSlipForm(forms.Form):
    PAPER, WEB = "paper", "web"

    delivery = forms.ChoiceField(
        label=_("検針票の受け取り方"),
        choices=[
            (PAPER, _("紙の検針票を受け取る")),
            (WEB, _("紙の検針票を止めて、このポータルで確認する(Web明細)")),
        ],
        widget=forms.RadioSelect,
        error_messages={
            "required": _("受け取り方を選んでください。"),
            "invalid_choice": _("受け取り方は一覧から選んでください。"),
        },
    )


class WatchForm(forms.Form):
    """見守り: the second person's address and the use below which they are mailed."""

    email = forms.EmailField(
        label=_("見守る方のメールアドレス"),
        max_length=254,
        error_messages={
            "required": _("見守る方のメールアドレスを入力してください。"),
            "invalid": _("メールアドレスの形式が正しくありません(例: mimamori@example.jp)。"),
        },
    )
    threshold_m3 = forms.IntegerField(
        label=_("お知らせする使用水量(1回の検針でこれ未満のとき)"),
        min_value=1,
        max_value=10_000,
        help_text=_("m³(立方メートル)で入力してください。例: 3"),
        error_messages={
            "required": _("お知らせする使用水量を入力してください。"),
            "invalid": _("使用水量は半角の数字で入力してください。"),
            "min_value": _("使用水量は1以上で入力してください。"),
            "max_value": _("使用水量は10000以下で入力してください。"),
        },
    )

    def __init__(self, *args, member_email: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.member_email = member_email.lower()

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        validate_plain_email(email)
        if email.lower() == self.member_email:
            raise forms.ValidationError(
                _(
                    "ご自身のメールアドレスではなく、見守る方(ご家族など)のアドレスを入力してください。"
                )
            )
        return email

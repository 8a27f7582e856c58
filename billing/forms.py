"""Forms of the resident's billing pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


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

"""使用中止 and 使用開始 forms: what each asks, each date rule, each refusal in Japanese."""

from __future__ import annotations

import datetime

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.forms.recovery import email_field
from accounts.forms.signup import (
    NormalisedCharField,
    checked_customer_number,
    checked_kana,
    checked_phone,
    contract_fields,
)
from billing.templatetags.billing_format import jdate_text
from portal import normalize, words

from .models import MoveApplication, MovingSettings, evidence_ok, open_move_ins, place_key_of
from .services import guest_match

Payment = MoveApplication.Payment


def _required(label) -> dict:
    return {"required": words.required_message(label)}


def no_control_characters(value: str) -> None:
    """Refuse tabs, newlines and other invisible characters in a one-line field: they
    would break the staff's list and the CIS's CSV line."""
    if any(not ch.isprintable() for ch in value):
        raise ValidationError(
            _("改行や制御文字は使えません。1行で入力してください。"), code="control_character"
        )


# Characters residents type that the CIS's cp932 cannot hold, with the usual stand-in.
STAND_INS = {"𠮷": "吉", "𡈽": "土", "𠀋": "丈", "𤊮": "煕", "𩸽": "ほっけ", "𣘺": "橋", "𠏹": "錆"}


def encodable(value: str) -> None:
    """Refuse a character the CIS's encoding (``PORTAL_MOVING_CSV_ENCODING``) cannot hold:
    one such application would otherwise stay out of the CIS's file."""
    encoding = settings.PORTAL_MOVING_CSV_ENCODING
    bad = []
    for ch in value:
        try:
            ch.encode(encoding)
        except UnicodeEncodeError:
            if ch not in bad:
                bad.append(ch)
    if not bad:
        return
    shown = "".join(f"「{ch}」" for ch in bad)
    stand_ins = [STAND_INS[ch] for ch in bad if ch in STAND_INS]
    if stand_ins:
        message = _("%(chars)sは使えません。%(instead)sなどに置き換えてください。") % {
            "chars": shown,
            "instead": "".join(f"「{ch}」" for ch in stand_ins),
        }
    else:
        message = _("%(chars)sは使えません。よく似た字やかなに置き換えてください。") % {
            "chars": shown
        }
    raise ValidationError(message, code="unencodable")


def guard_text_fields(fields) -> None:
    """Every text field of an application: one line, and only characters the CIS can read."""
    for field in fields.values():
        if isinstance(field, forms.CharField):
            for check in (no_control_characters, encodable):
                if check not in field.validators:
                    field.validators.append(check)


def _text(label, *, max_length: int, required: bool = True, **kwargs) -> NormalisedCharField:
    return NormalisedCharField(
        label=label,
        normalise=normalize.address_to_keep,
        max_length=max_length,
        required=required,
        validators=[no_control_characters],
        error_messages={
            **_required(label),
            "max_length": _("%(label)sは%(n)d文字以内で入力してください。")
            % {"label": label, "n": max_length},
        },
        **kwargs,
    )


class NormalisedDateField(forms.DateField):
    """A date typed with full-width digits or any hyphen look-alike (no date picker)."""

    def to_python(self, value):
        if isinstance(value, str):
            value = normalize.date(value)
        return super().to_python(value)


def _jdate(day: datetime.date) -> str:
    """「2027年3月4日」, 「4 Mar 2027」 in English (the page's language)."""
    return jdate_text(day)


class MoveForm(forms.Form):
    """The fields both forms share; ``kind`` picks the rest."""

    kind: str

    def __init__(
        self,
        *args,
        settings: MovingSettings,
        member=None,
        contract=None,
        today: datetime.date | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.settings, self.utility = settings, settings.utility
        self.member, self.contract = member, contract
        self.today = today
        first, last = settings.first_day(today), settings.last_day(today)
        help_text = _("%(first)sから%(last)sまでの日を選んでください。") % {
            "first": _jdate(first),
            "last": _jdate(last),
        }
        if closed := settings.closed_summary():
            help_text += _("ただし、%(closed)sは受け付けていません。") % {"closed": closed}
        self.fields["move_date"] = NormalisedDateField(
            label=self.date_label,
            help_text=help_text,
            input_formats=["%Y-%m-%d", "%Y/%m/%d"],
            error_messages={
                **_required(self.date_label),
                "invalid": _("日付を正しく入力してください(例: %(example)s)。")
                % {"example": first.isoformat()},
            },
            widget=forms.DateInput(
                format="%Y-%m-%d",
                attrs={"type": "date", "min": first.isoformat(), "max": last.isoformat()},
            ),
        )

    def clean_move_date(self) -> datetime.date:
        day = self.cleaned_data["move_date"]
        first, last = self.settings.first_day(self.today), self.settings.last_day(self.today)
        if day < first:
            raise ValidationError(
                _("%(label)sは%(first)s以降の日を選んでください。"),
                code="too_early",
                params={"label": self.date_label, "first": _jdate(first)},
            )
        if day > last:
            raise ValidationError(
                _(
                    "%(label)sは%(last)sまでの日を選んでください(それより先はお電話でお申し込みください)。"
                ),
                code="too_late",
                params={"label": self.date_label, "last": _jdate(last)},
            )
        reason = self.settings.closed_reason(day)
        if reason is not None:
            raise ValidationError(
                _("%(day)sは%(reason)sのため受け付けていません。別の日を選んでください。"),
                code="closed",
                params={"day": _jdate(day), "reason": reason or _("休業日")},
            )
        return day

    def clean_contact_phone(self) -> str:
        return checked_phone(self.cleaned_data["contact_phone"])

    def clean_phone(self) -> str:
        return checked_phone(self.cleaned_data["phone"])

    def clean_name_kana(self) -> str:
        return checked_kana(self.cleaned_data["name_kana"])

    def _add_email(self) -> None:
        if self.member is None:
            self.fields["email"] = email_field()
            self.fields["email"].help_text = _("受付のお知らせと手続きの状況をお送りします。")

    def _contact_phone(self) -> NormalisedCharField:
        return NormalisedCharField(
            label=_("連絡先電話番号"),
            normalise=normalize.phone,
            max_length=30,
            help_text=_("日中につながる電話番号を入力してください。[例]03-1234-5678"),
            error_messages=_required(_("連絡先電話番号")),
            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
        )


class ContractForm(MoveForm):
    """An application about an existing contract (使用中止, 名義変更): a member's own contract
    (prefilled), or a guest who names it as the utility's signup does (the same fields and
    matching rules, the same answer whether or not the number exists)."""

    # The words of each refusal, per kind.
    words: dict[str, str]

    def _add_contract_fields(self) -> None:
        if self.member is not None:
            return
        self.fields.update(contract_fields(self.utility))
        # The phone that names the contract, not the one to call now (two phones here).
        phone = self.fields["phone"]
        phone.label = _("ご契約の%(label)s") % {"label": phone.label}
        office = self.utility.office_name
        if office not in str(phone.help_text):
            phone.help_text = _("%(office)sに届け出た電話番号です。%(example)s") % {
                "office": office,
                "example": phone.help_text,
            }

    def clean_customer_number(self) -> str:
        return checked_customer_number(self.utility, self.cleaned_data["customer_number"])

    @property
    def customer_number(self) -> str:
        if self.contract is not None:
            return self.contract.number
        return self.cleaned_data.get("customer_number", "")

    def clean(self) -> dict:
        data = super().clean()
        day, number = data.get("move_date"), self.customer_number
        if day is None or not number:
            return data
        ended_on = getattr(self.contract, "link_ended_on", None)
        if ended_on is not None:
            past = ended_on <= (self.today or timezone.localdate())
            if getattr(self.contract, "link_handed_over", False):  # the water runs on
                words = (
                    _("この契約は%(day)sに名義変更されました。")
                    if past
                    else _("この契約は%(day)sに名義変更される予定です。")
                )
            else:
                words = (
                    _("この契約は%(day)sに使用を中止しました。")
                    if past
                    else _("この契約は%(day)sに使用を中止する予定です。")
                )
            raise ValidationError(words % {"day": _jdate(ended_on)}, code="ended")
        applied = MoveApplication.objects.filter(
            utility=self.utility, kind=self.kind, customer_number=number
        )
        if self.contract is None and not evidence_ok(guest_match(self.utility, data)):
            # Someone who knows only the number: never blocked by, and never blocking, the
            # holder's application; only their own second one is a duplicate. The answer is
            # the same whether or not the number exists.
            applied = applied.filter(matched=False, email__iexact=data.get("email", ""))
            if applied.filter(move_date=day).exists():
                self._duplicate(day)
            return data
        applied = applied.filter(matched=True)
        if (
            self.contract is not None
            and applied.filter(status=MoveApplication.Status.DONE).exists()
        ):
            # A guest's completed application of this contract: the member's link ends with it.
            raise ValidationError(self.words["done"], code="ended")
        if self.contract is not None:
            # A guest's open application (who knows the holder's kana and phone) never
            # blocks the members' own: staff see both, the guest's flagged.
            applied = applied.exclude(member=None)
        if applied.filter(move_date=day).exists():
            self._duplicate(day)
        elif applied.exclude(status=MoveApplication.Status.DONE).exists():
            # Any open application of the number: the contract is already ending/changing.
            raise ValidationError(self.words["open"], code="already_ending")
        return data

    def _duplicate(self, day: datetime.date) -> None:
        self.add_error(
            "move_date",
            ValidationError(self.words["duplicate"], code="duplicate", params={"day": _jdate(day)}),
        )


class MoveOutForm(ContractForm):
    """使用中止: the day, where the final bill goes, how it is paid, a phone to call."""

    kind = MoveApplication.Kind.MOVE_OUT
    date_label = _("使用中止日")
    words = {
        "done": _("この契約の使用中止は、すでに完了しています。"),
        "open": _(
            "この契約の使用中止は、すでに受け付けています。日付を変更する場合は、"
            "お問い合わせ先へご連絡ください。"
        ),
        "duplicate": _("この契約の%(day)sの使用中止は、すでに受け付けています。"),
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._add_contract_fields()
        self.fields["final_bill_address"] = _text(
            _("精算書の送付先(転居先の住所)"),
            max_length=256,
            help_text=_("最終のご使用分の精算書(納付書)をお送りする住所です。"),
            widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
        )
        self.fields["payment"] = forms.ChoiceField(
            label=_("精算のお支払い方法"),
            choices=[
                (Payment.TRANSFER, _("口座振替(現在の口座から引き落とし)")),
                (Payment.SLIP, _("納付書(精算書の送付先へ郵送)")),
            ],
            widget=forms.RadioSelect,
            error_messages={"required": _("精算のお支払い方法を選んでください。")},
        )
        self.fields["contact_phone"] = self._contact_phone()
        if self.member is None:
            self.fields["contact_phone"].label = _("お引越し後の連絡先電話番号")
        self._add_email()
        order = ["customer_number", "name", "name_kana", "address", "phone", "move_date"]
        self.order_fields(order)
        guard_text_fields(self.fields)


Relationship = MoveApplication.Relationship


class NameChangeForm(ContractForm):
    """名義変更: the contract (as a move-out names it), the day the new holder takes over, who
    the new holder is, why, how they will pay, and whether they want a portal membership."""

    kind = MoveApplication.Kind.NAME_CHANGE
    date_label = _("名義変更日")
    words = {
        "done": _("この契約の名義変更は、すでに完了しています。"),
        "open": _(
            "この契約の名義変更は、すでに受け付けています。内容を変更する場合は、"
            "お問い合わせ先へご連絡ください。"
        ),
        "duplicate": _("この契約の%(day)sの名義変更は、すでに受け付けています。"),
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._add_contract_fields()
        self.fields["new_name"] = _text(
            _("新しい名義人のお名前"),
            max_length=40,
            widget=forms.TextInput(attrs={"autocomplete": "off"}),
        )
        self.fields["new_name_kana"] = NormalisedCharField(
            label=_("新しい名義人のお名前カナ"),
            normalise=normalize.kana_name,
            max_length=100,
            error_messages=_required(_("新しい名義人のお名前カナ")),
        )
        self.fields["new_phone"] = NormalisedCharField(
            label=_("新しい名義人の電話番号"),
            normalise=normalize.phone,
            max_length=30,
            help_text=_("日中につながる電話番号を入力してください。[例]03-1234-5678"),
            error_messages=_required(_("新しい名義人の電話番号")),
            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
        )
        self.fields["new_email"] = email_field(_("新しい名義人のメールアドレス"))
        self.fields["new_email"].widget.attrs["autocomplete"] = "off"
        self.fields["relationship"] = forms.ChoiceField(
            label=_("名義変更の理由"),
            choices=Relationship.choices,
            widget=forms.RadioSelect,
            error_messages={"required": _("名義変更の理由を選んでください。")},
        )
        self.fields["relationship_note"] = _text(
            _("その他の理由"),
            max_length=100,
            required=False,
            help_text=_("「その他」を選んだときに入力してください。"),
        )
        self.fields["payment"] = forms.ChoiceField(
            label=_("お支払い方法のご希望"),
            choices=[
                (Payment.TRANSFER, _("口座振替(新しい名義人の口座。申込書を郵送します)")),
                (Payment.SLIP, _("納付書")),
            ],
            widget=forms.RadioSelect,
            error_messages={"required": _("お支払い方法のご希望を選んでください。")},
        )
        self.fields["wants_membership"] = forms.BooleanField(
            label=_("新しい名義人がポータルの会員登録のご案内を受け取る"),
            required=False,
        )
        self._add_email()
        if "email" in self.fields:
            self.fields["email"].label = _("お申し込みの方のメールアドレス")
        order = ["customer_number", "name", "name_kana", "address", "phone", "move_date"]
        self.order_fields(order)
        guard_text_fields(self.fields)

    def clean_new_name_kana(self) -> str:
        try:
            return checked_kana(self.cleaned_data["new_name_kana"])
        except ValidationError as error:  # the signup's words name 「お客様氏名カナ」
            raise ValidationError(
                _("新しい名義人のお名前カナはカタカナで入力してください(ひらがなも使えます)。"),
                code=error.code,
            ) from error

    def clean_new_phone(self) -> str:
        return checked_phone(self.cleaned_data["new_phone"])

    def clean(self) -> dict:
        data = super().clean()
        if data.get("relationship") == Relationship.OTHER and not data.get("relationship_note"):
            self.add_error(
                "relationship_note", _("「その他」を選んだときは、理由を入力してください。")
            )
        elif data.get("relationship") != Relationship.OTHER:
            data["relationship_note"] = ""
        return data


class MoveInForm(MoveForm):
    """使用開始: the new address, the day, who will use the water, and how they will pay."""

    kind = MoveApplication.Kind.MOVE_IN
    date_label = _("使用開始日")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["address"] = _text(
            _("ご使用場所の住所"),
            max_length=256,
            help_text=_("・[例]〇〇市△△町1500-1"),
            widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
        )
        self.fields["building"] = _text(
            _("建物名・アパート名・部屋番号"), max_length=256, required=False
        )
        self.fields["name"] = _text(
            _("お名前"), max_length=40, widget=forms.TextInput(attrs={"autocomplete": "name"})
        )
        self.fields["name_kana"] = NormalisedCharField(
            label=_("お名前カナ"),
            normalise=normalize.kana_name,
            max_length=100,
            error_messages=_required(_("お名前カナ")),
        )
        self.fields["phone"] = self._contact_phone()
        self._add_email()
        self.fields["payment"] = forms.ChoiceField(
            label=_("お支払い方法のご希望"),
            choices=[
                (Payment.TRANSFER, _("口座振替(申込書を郵送します)")),
                (Payment.SLIP, _("納付書")),
            ],
            widget=forms.RadioSelect,
            error_messages={"required": _("お支払い方法のご希望を選んでください。")},
        )
        self.fields["wants_membership"] = forms.BooleanField(
            label=(
                _("新しい契約が登録されたら、この会員情報に追加する")
                if self.member
                else _("新しい契約が登録されたら、ポータルの会員登録のご案内を受け取る")
            ),
            required=False,
        )
        self.order_fields(["address", "building", "move_date", "name", "name_kana", "phone"])
        guard_text_fields(self.fields)
        if self.member is not None and not self.is_bound:
            self.initial.update(
                name=self.member.name if not self.utility.name_is_nickname else "",
                name_kana=self.member.name_kana,
                phone=self.member.phone,
            )

    def clean_phone(self) -> str:
        return checked_phone(self.cleaned_data["phone"])

    def clean(self) -> dict:
        data = super().clean()
        address, building, day = (data.get(k) for k in ("address", "building", "move_date"))
        if None in (address, building, day):
            return data
        if open_move_ins(self.utility, place_key_of(address, building), day).exists():
            self.add_error("move_date", ValidationError(MOVE_IN_TAKEN % {"day": _jdate(day)}))
        return data


# One open move-in per place and day (the constraint move_in_once_per_place_and_day).
MOVE_IN_TAKEN = _(
    "%(day)sからの、このご使用場所の使用開始は、すでに受け付けています。"
    "お申し込みの内容を変更する場合は、お問い合わせ先へご連絡ください。"
)

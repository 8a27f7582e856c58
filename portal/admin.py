"""Admin for utilities, and the scoping every admin of this project uses."""

from __future__ import annotations

import functools
import unicodedata

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.db import DataError
from django.db.models import QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import mailreasons
from .models import OutboxMail, Utility, UtilityText, language_codes
from .outbox import NO_REPLY_AFTER_DATA
from .validators import validate_plain_email

# Fields that hold a hash of a secret (passwords, secret answers, link and code hashes,
# sessions). No admin filters on them, directly or through a relation: a ?password__startswith=
# query string would read a hash out one character at a time.
SECRET_FIELDS = frozenset({"password", "secret_answer_hash", "secret_hash", "session_data"})
# Bigint primary keys: a selected row outside this range can be no row at all.
_PK_RANGE = range(-(2**63), 2**63)


def _has_utility_field(model) -> bool:
    return any(f.name == "utility" for f in model._meta.fields)


def utility_of(obj) -> Utility | None:
    """The utility a row belongs to: its own, or its member's (a contract request)."""
    if obj is None:
        return None
    utility = getattr(obj, "utility", None)
    return utility if utility is not None else utility_of(getattr(obj, "member", None))


def customer_number_word(request: HttpRequest, utility: Utility | None = None) -> str:
    """The word staff read for the customer number: the row's utility's, else their own's.

    Kanazawa's staff read 「ポータル登録番号」, Nayoro's 「お客様番号」. A platform superuser's
    list mixes utilities, so it says 「お客様番号」, the default word of a new utility.
    """
    utility = utility or getattr(request.user, "utility", None)
    return utility.customer_number_label if utility else gettext("お客様番号")


def names_a_secret(lookup: str) -> bool:
    """Tell whether an admin lookup reaches a secret field anywhere along its path."""
    return any(part in SECRET_FIELDS for part in lookup.split(LOOKUP_SEP))


def scope_choices(request: HttpRequest, queryset: QuerySet) -> QuerySet:
    """Narrow a foreign-key choice list to the staff member's utility (superusers: all)."""
    user = request.user
    if user.is_superuser:
        return queryset
    if queryset.model is Utility:
        return queryset.filter(pk=user.utility_id)
    if _has_utility_field(queryset.model):
        return queryset.filter(utility_id=user.utility_id)
    return queryset


def can_be_key(db_field, value) -> bool:
    """Tell whether ``value`` could be the key a foreign key points at (``abc``, ``1e3``,
    ``21\x00`` or a number past bigint cannot)."""
    target = db_field.remote_field.model._meta.get_field(db_field.remote_field.field_name)
    try:
        key = target.get_prep_value(target.to_python(value))
    except (TypeError, ValueError, ValidationError):
        return False
    return not isinstance(key, int) or key in _PK_RANGE


class KeysCheckedAutocompleteMixin:
    """An autocomplete that draws a typed value which is no key as nothing chosen.

    The form says the choice is not valid; Django's widget would first look the value up to
    draw the page again, and an ``abc`` there is a ValueError (a 500), not an error message.
    """

    def optgroups(self, name: str, value: list, attr=None):
        checked = [v for v in value if can_be_key(self.field, v)]
        return super().optgroups(name, checked, attr)


class KeysCheckedAutocompleteSelect(KeysCheckedAutocompleteMixin, AutocompleteSelect):
    pass


class KeysCheckedAutocompleteSelectMultiple(
    KeysCheckedAutocompleteMixin, AutocompleteSelectMultiple
):
    pass


class ScopedChoicesMixin:
    """Foreign-key and many-to-many choices of a form or inline, scoped to the utility, and
    fields named after the customer number labelled with the utility's word for it.

    ``customer_number_labels`` maps such a field to its label around that word
    (``{"signup_customer_number": _("申請時の%(word)s")}``).
    """

    customer_number_labels: dict[str, str] = {}

    def number_labels(self, request: HttpRequest, obj=None) -> dict[str, str]:
        word = customer_number_word(request, utility_of(obj))
        return {name: label % {"word": word} for name, label in self.customer_number_labels.items()}

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = KeysCheckedAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope_choices(request, field.queryset)
        return field

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = KeysCheckedAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope_choices(request, field.queryset)
        return field


class UtilityScopedInline(ScopedChoicesMixin, admin.TabularInline):
    """An inline whose choices are scoped like its parent admin's."""

    def get_formset(self, request: HttpRequest, obj=None, **kwargs):
        kwargs["labels"] = {**self.number_labels(request, obj), **kwargs.get("labels", {})}
        return super().get_formset(request, obj, **kwargs)


class PortalAdmin(admin.ModelAdmin):
    """What every admin of this project does, scoped to a utility or not (Django's own
    GroupAdmin is registered through it too): no lookup on a secret field, no 500 from a
    value the database cannot take, no NUL in a search."""

    def lookup_allowed(self, lookup: str, value, request: HttpRequest | None = None) -> bool:
        if names_a_secret(lookup):
            return False  # Django answers 400 (DisallowedModelAdminLookup)
        return super().lookup_allowed(lookup, value, request)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        # PostgreSQL refuses a NUL in text (DataError, a 500). The changelist's search form
        # drops such a term, but the autocomplete's ``term`` arrives here as it was typed.
        search_term = search_term.replace("\x00", "")
        return super().get_search_results(request, queryset, search_term)

    def get_changelist_instance(self, request: HttpRequest):
        # Values the database cannot take (a NUL byte, year 9999999999, a number past bigint)
        # are the same "wacky lookup" to staff as an unknown field: back to the plain list.
        try:
            return super().get_changelist_instance(request)
        except (DataError, OverflowError, ValueError, ValidationError) as exc:
            raise IncorrectLookupParameters(exc) from exc

    def response_action(self, request: HttpRequest, queryset: QuerySet):
        pk = self.model._meta.pk
        try:
            selected = [pk.to_python(v) for v in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)]
        except ValidationError:
            selected = None
        if selected is None or any(isinstance(v, int) and v not in _PK_RANGE for v in selected):
            self.message_user(
                request,
                gettext("選択された行が正しくありません。一覧から選び直してください。"),
                messages.ERROR,
            )
            return None
        return super().response_action(request, queryset)


class ReadOnlyAdminMixin:
    """A list staff read and never write (送信メール, Web明細): no add, change or delete."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class UtilityScopedAdmin(ScopedChoicesMixin, PortalAdmin):
    """Staff attached to a utility see and edit only that utility's rows; superusers see all.

    ``utility_path`` is the lookup from the model to its utility ("utility",
    "customer__utility"). Lists, detail pages, search and foreign-key choices are all scoped,
    and a new row gets the staff member's utility whatever the form said.
    """

    utility_path = "utility"

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        # Labels of model fields, read-only ones too (the admin reads them from the form's Meta).
        kwargs["labels"] = {**self.number_labels(request, obj), **kwargs.get("labels", {})}
        return super().get_form(request, obj, change, **kwargs)

    def get_list_display(self, request: HttpRequest):
        """The columns: the utility's word on number columns, no 事業者 for one utility's staff
        (every row is theirs; the column cost a list its fit at 1280 px)."""
        labels = self.number_labels(request)
        columns = [
            _labelled_column(name, labels[name]) if name in labels else name
            for name in super().get_list_display(request)
        ]
        if request.user.is_superuser:
            return columns
        return [c for c in columns if c != self.utility_path]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        user = request.user
        if user.is_superuser:
            return queryset
        if not getattr(user, "utility_id", None):
            return queryset.none()
        return queryset.filter(**{self.utility_path: user.utility_id})

    def get_list_filter(self, request: HttpRequest):
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        return [f for f in filters if f != self.utility_path]

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        if not request.user.is_superuser and _has_utility_field(type(obj)):
            obj.utility_id = request.user.utility_id
        super().save_model(request, obj, form, change)


@functools.cache  # one column per label: the admin finds sortable columns by identity
def _labelled_column(name: str, label: str):
    """A list column showing field ``name`` under ``label``, sortable as the field is."""

    @admin.display(description=label, ordering=name)
    def column(obj) -> str:
        return getattr(obj, name)

    column.__name__ = name  # the cells keep their class (field-number)
    return column


class UtilityAdminForm(forms.ModelForm):
    """A utility's addresses are held to the rule every typed address meets."""

    languages = forms.MultipleChoiceField(
        label=_("提供する言語"),
        choices=settings.LANGUAGES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("日本語は必ず提供します。ここにない言語を選んだ方には日本語で表示します。"),
    )

    class Meta:
        model = Utility
        fields = ["inquiry_email", "sender_email"]  # the admin's fieldsets give the rest

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "languages" in self.fields:
            self.initial["languages"] = list(
                language_codes(self.instance.languages if self.instance.pk else "ja")
            )
        rate = self.fields.get("mail_rate_per_minute")
        if rate is not None:
            # The model's rule (1 or more, blank = no limit) is the widget's and the only message.
            rate.min_value = 1
            rate.validators = [MinValueValidator(1)]
            rate.widget.attrs["min"] = "1"

        for name in REGISTRATION_NUMBERS:
            field = self.fields.get(name)
            if field is not None:
                # Full-width 「Ｔ１２…」 is read as typed half-width (clean_*), then held to the
                # model's 14 characters: the form's own length check would count it unconverted.
                field.max_length = None
                field.validators = [
                    v for v in field.validators if not isinstance(v, MaxLengthValidator)
                ]

    def clean_invoice_registration_number(self) -> str:
        return _half_width(self.cleaned_data["invoice_registration_number"])

    def clean_sewer_invoice_registration_number(self) -> str:
        return _half_width(self.cleaned_data["sewer_invoice_registration_number"])

    def clean_languages(self) -> str:
        return ",".join(language_codes(",".join(self.cleaned_data["languages"])))

    def clean_inquiry_email(self) -> str:
        return _plain_email(self.cleaned_data["inquiry_email"])

    def clean_sender_email(self) -> str:
        return _plain_email(self.cleaned_data["sender_email"])


REGISTRATION_NUMBERS = ("invoice_registration_number", "sewer_invoice_registration_number")


def _half_width(text: str) -> str:
    """「Ｔ９０００ ０００」 as 「T9000000」: NFKC, without spaces, the T in capitals."""
    return unicodedata.normalize("NFKC", text).replace(" ", "").upper()


def _plain_email(email: str) -> str:
    if email:
        validate_plain_email(email)
    return email


class TextVersionInline(admin.StackedInline):
    """A text staff typed in Japanese, given in another language the utility offers: the
    page or mail in that language shows it; without one, the Japanese text."""

    extra = 0
    fields = ["field", "language", "text", "japanese_now"]
    readonly_fields = ["japanese_now"]

    @admin.display(description="日本語の文章")
    def japanese_now(self, obj) -> str:
        """Beside each version: whether the Japanese text moved on since it was saved (an FAQ
        question added in Japanese is missing from the English FAQ until staff add it)."""
        if obj is None or obj.pk is None:
            return ""
        if obj.japanese_changed:
            return format_html(
                "<strong>{}</strong>", "日本語の文章が、この言語版の保存後に変わりました"
            )
        return "この言語版の保存後、変わっていません"


class UtilityTextInline(TextVersionInline):
    model = UtilityText


@admin.register(Utility)
class UtilityAdmin(UtilityScopedAdmin):
    form = UtilityAdminForm
    inlines = [UtilityTextInline]
    utility_path = "pk"
    list_display = ["portal_name", "slug", "verification", "login_identifier", "activation"]
    search_fields = ["portal_name", "name", "slug"]
    fieldsets = [
        (None, {"fields": ["slug", "name", "portal_name", "short_name"]}),
        (
            "ご利用時間",
            {"fields": ["opens_at", "closes_at"]},
        ),
        (
            "登録とログインのルール",
            {
                "fields": [
                    "verification",
                    "login_identifier",
                    "activation",
                    "offers_remember_id",
                    "customer_number_label",
                    "customer_number_on_slip",
                    "customer_number_digits",
                    "password_rule",
                    "signup_link_ttl_hours",
                    "code_ttl_minutes",
                    "code_attempts",
                    "max_members_per_contract",
                    "session_idle_minutes",
                ]
            },
        ),
        (
            "登録時に尋ねる項目",
            {
                "fields": [
                    "name_is_nickname",
                    "asks_address",
                    "asks_secret_question",
                    "asks_tax_declaration",
                    "asks_referral",
                    "asks_kana",
                    "asks_privacy_consent",
                    "asks_relation",
                    "asks_payment_method",
                ]
            },
        ),
        (
            "案内文とお問い合わせ先",
            {
                "fields": [
                    "contact_block",
                    "offices",
                    "inquiry_email",
                    "faq",
                    "sender_email",
                    "mail_rate_per_minute",
                    "terms_text",
                    "privacy_text",
                    "data_delay_note",
                    "signup_complete_subject",
                ]
            },
        ),
        (
            "料金・使用量",
            {
                "fields": [
                    "invoice_registration_number",
                    "sewer_invoice_issuer",
                    "sewer_invoice_registration_number",
                    "billing_cycle_months",
                    "leak_ratio_percent",
                    "leak_min_increase_m3",
                ]
            },
        ),
        ("Web明細", {"fields": ["offers_web_slip", "web_slip_text"]}),
        ("言語", {"fields": ["languages"]}),
        (
            "検針後のお知らせメールと会員の既定",
            {
                "fields": [
                    "hold_bill_mail",
                    "mail_bill_ready_default",
                    "mail_alerts_default",
                    "mail_notices_default",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [] if request.user.is_superuser else ["slug"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser


def _japan_time(moment) -> str:
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


@admin.register(OutboxMail)
class OutboxMailAdmin(ReadOnlyAdminMixin, UtilityScopedAdmin):
    """送信メール: every mail the portal owes, with its state and the server's last reply.

    Read only. The body is never shown: while a mail waits it may hold a link or a code.
    """

    list_display = [
        "received",
        "recipient",
        "subject",
        "status",
        "attempts",
        "reason",
        "last_error",
    ]
    list_filter = ["status", "utility"]
    search_fields = ["recipient", "subject", "member__login_id", "member__email"]
    fields = [
        "utility",
        "member",
        "recipient",
        "subject",
        "language",
        "status",
        "attempts",
        "reason",
        "last_error",
        "received",
        "next_try",
        "sent",
        "failed",
    ]
    readonly_fields = fields
    list_select_related = ["member"]

    @admin.display(description=_("理由"))
    def reason(self, mail: OutboxMail) -> str:
        """Why it did not go (yet), in plain Japanese; the raw reply beside it (a19 F6)."""
        if not mail.last_error:
            return ""
        if mail.status == mail.Status.CANCELLED:
            return mail.last_error  # written in Japanese by the recheck
        if mail.last_error.startswith(NO_REPLY_AFTER_DATA):
            return (
                _(
                    "本文を送った後、メールサーバーから返事がありませんでした(届いたものとみなしました)。"
                )
                if mail.status == mail.Status.SENT
                else _(
                    "本文を送った後、メールサーバーから返事がありませんでした(もう一度だけ送ります)。"
                )
            )
        if mail.status != mail.Status.PENDING:
            return mailreasons.reason(mail.last_error)
        if mailreasons.kind(mail.last_error) == mailreasons.TEMPORARY:
            return _(
                "受け取る側のメールサーバーが一時的に受け取れませんでした。あとで送り直します。"
            )
        return _("%(reason)s あとで送り直します。") % {
            "reason": mailreasons.reason(mail.last_error)
        }

    @admin.display(description=_("受付日時"), ordering="created_at")
    def received(self, mail: OutboxMail) -> str:
        return _japan_time(mail.created_at)

    @admin.display(description=_("次の送信"))
    def next_try(self, mail: OutboxMail) -> str:
        return _japan_time(mail.next_attempt_at if mail.status == mail.Status.PENDING else None)

    @admin.display(description=_("送信日時"))
    def sent(self, mail: OutboxMail) -> str:
        return _japan_time(mail.sent_at)

    @admin.display(description=_("失敗日時"))
    def failed(self, mail: OutboxMail) -> str:
        return _japan_time(mail.failed_at)

"""The staff queue of 使用開始・使用中止 (per utility), its CSV for the CIS, and the settings."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.admin import _evidence, _evidence_table, _match_line
from accounts.forms.signup import checked_customer_number
from accounts.models import ContractLink
from portal import normalize
from portal.admin import TextVersionInline, UtilityScopedAdmin

from . import export, services
from .forms import guard_text_fields, no_control_characters
from .models import (
    CONTRACT_KINDS,
    MoveApplication,
    MovingSettings,
    MovingText,
    open_move_ins,
    place_key_of,
)

Status = MoveApplication.Status
UNMATCHED = _("一致しない項目があります(要確認)")
# Why a contract's application needs a look (ended_before), long and short for the list.
ENDED = {
    "move_out": _("この契約は、すでに使用中止が完了しています(要確認)"),
    "name_change": _("この契約は、すでに名義変更が完了しています(要確認)"),
    "open_move_out": _("この契約の使用中止を、この日より前の日で受け付けています(要確認)"),
}
ENDED_SHORT = {
    "move_out": _("中止済み(要確認)"),
    "name_change": _("名義変更済み(要確認)"),
    "open_move_out": _("中止受付中(要確認)"),
}
# The same, short enough for the list's column.
UNMATCHED_SHORT = _("不一致(要確認)")
# One piece, never broken (「不一致|(要確認)」) now that the list's tick column narrows it.
FLAG = '{}<br><strong class="match-item">{}</strong>'


class MovingTextInline(TextVersionInline):
    model = MovingText


@admin.register(MovingSettings)
class MovingSettingsAdmin(UtilityScopedAdmin):
    inlines = [MovingTextInline]
    list_display = [
        "__str__",
        "offers_move_out",
        "offers_move_in",
        "offers_name_change",
        "window_days",
    ]
    fields = [
        "offers_move_out",
        "offers_move_in",
        "offers_name_change",
        "earliest_days",
        "window_days",
        "closed_dates",
        "move_out_text",
        "move_in_text",
        "name_change_text",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser  # one row per utility, made with the utility

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ["utility", *self.fields]
        return self.fields


class HandleForm(forms.ModelForm):
    """What staff change on an application: its status and the note mailed with it, and the
    typed text the CIS cannot read or a resident mistyped (corrected, not mailed)."""

    status = forms.ChoiceField(label=_("状況"), choices=Status.choices, widget=forms.RadioSelect)

    class Meta:
        model = MoveApplication
        fields = ["status", "staff_note", "new_customer_number", *services.CORRECTABLE]
        help_texts = {"staff_note": _("状況と一緒にお客さまへメールでお送りします。")}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        guard_text_fields({name: self.fields[name] for name in services.CORRECTABLE})

    def clean_new_customer_number(self) -> str:
        typed = normalize.digits(self.cleaned_data.get("new_customer_number", ""))
        if "new_customer_number" not in self.changed_data:
            return typed
        if self.instance.reached_at is not None:
            raise forms.ValidationError(
                _("この番号の契約は、すでにお客さまに届けています。変えられません。")
            )
        if self.instance.kind == MoveApplication.Kind.MOVE_OUT:
            raise forms.ValidationError(_("使用中止のお申し込みには入力しません。"))
        if typed:
            checked_customer_number(self.instance.utility, typed)
        return typed

    def clean_staff_note(self) -> str:
        note = self.cleaned_data["staff_note"]
        if len(note) > 2000:
            raise forms.ValidationError(_("お客さまへの連絡事項は2000文字以内で入力してください。"))
        for line in note.splitlines():
            no_control_characters(line)
        return note

    confirmed = forms.BooleanField(
        label=_("要確認の点を確かめたうえで、完了にする"),
        required=False,
        help_text=_(
            "一致しない項目がある、またはすでに使用中止が完了している契約の使用中止・名義変更を"
            "完了にすると、会員のこの契約の表示がその日で終わります。"
        ),
    )

    number_confirmed = forms.BooleanField(
        label=_("すでにある契約と確かめた"),
        required=False,
        help_text=_(
            "ほかの会員や、この日より前の検針・請求がある番号のときだけ必要です。"
            "会員には、使用開始日(名義変更日)からの検針・請求だけが表示されます。"
        ),
    )

    def clean(self) -> dict:
        data = super().clean()
        number = data.get("new_customer_number")
        if (
            number
            and "new_customer_number" in self.changed_data
            and not data.get("number_confirmed")
        ):
            # A slip of one digit names another household's contract: say what is there.
            if used := services.existing_use(self.instance, number):
                self.add_error("new_customer_number", used)
        if self.instance.status == Status.DONE and data.get("status") != Status.DONE:
            raise forms.ValidationError(_("完了したお申し込みの状況は変えられません。"))
        if self.instance.status == Status.DONE and "staff_note" in self.changed_data:
            # 完了 is final, its note too: a second 完了 mail would read as a second completion.
            self.add_error(
                "staff_note",
                _(
                    "完了したお申し込みの連絡事項は変えられません。お客さまへの追加のご連絡は、"
                    "メールかお電話でお願いします。"
                ),
            )
        if (
            data.get("status") == Status.DONE
            and self.instance.status != Status.DONE
            and needs_confirmation(self.instance)
            and not data.get("confirmed")
        ):
            self.add_error(
                "confirmed",
                _(
                    "要確認のお申し込みです。契約者ご本人からであることを確かめたら、"
                    "チェックを入れてから完了にしてください。"
                ),
            )
        if (
            data.get("status") == Status.DONE
            and self.instance.status != Status.DONE  # becoming 完了 (older ones may lack it)
            and self.instance.leads_to_contract
            and not data.get("new_customer_number")
            and "new_customer_number" not in self.errors
        ):
            self.add_error(
                "new_customer_number",
                _(
                    "会員登録を希望したお申し込みです。完了にする前に、"
                    "新しい契約の番号を入力してください。"
                ),
            )
        if (
            self.instance.kind == MoveApplication.Kind.MOVE_IN
            and {"address", "building"} & set(self.changed_data)
            and data.get("status") != Status.DONE
            and open_move_ins(
                self.instance.utility,
                place_key_of(data.get("address", ""), data.get("building", "")),
                self.instance.move_date,
                exclude_pk=self.instance.pk,
            ).exists()
        ):
            self.add_error(
                "address", _("このご使用場所と日の使用開始は、ほかのお申し込みで受け付けています。")
            )
        if data.get("status") == Status.CONTACT and not data.get("staff_note", "").strip():
            self.add_error(
                "staff_note", _("要連絡にするときは、お客さまへの連絡事項を入力してください。")
            )
        return data


def ended_before(application: MoveApplication) -> str:
    """Why the contract's application needs a look ("" if it does not): its move-out or
    名義変更 was already completed (another application, or a member's link to it ended), or
    — for a 名義変更 — a move-out of it is open for an earlier day. A key of ENDED."""
    if not application.names_contract:
        return ""
    others = MoveApplication.objects.filter(
        utility_id=application.utility_id,
        customer_number=application.customer_number,
        matched=True,
    ).exclude(pk=application.pk)
    done = others.filter(status=Status.DONE, kind__in=CONTRACT_KINDS).order_by("-move_date")
    if kind := done.values_list("kind", flat=True).first():
        return kind
    if application.customer_id is not None and (
        ContractLink.objects.filter(customer_id=application.customer_id)
        .exclude(ended_on=None)
        .exists()
    ):
        return "move_out"
    if application.kind == MoveApplication.Kind.NAME_CHANGE and (
        others.filter(kind=MoveApplication.Kind.MOVE_OUT, move_date__lte=application.move_date)
        .exclude(status=Status.DONE)
        .exists()
    ):
        return "open_move_out"
    return ""


def needs_confirmation(application: MoveApplication) -> bool:
    if not application.names_contract or application.status == Status.DONE:
        return False
    return not application.matched or ended_before(application)


@admin.register(MoveApplication)
class MoveApplicationAdmin(UtilityScopedAdmin):
    form = HandleForm
    list_display = [
        "application",
        "move_date",
        "status",
        "customer_number",
        "match_summary",
        "utility",
    ]
    list_filter = ["status", "kind", "utility"]
    search_fields = ["reference", "customer_number", "name", "name_kana", "phone", "email"]
    date_hierarchy = "move_date"
    list_select_related = ["utility"]
    customer_number_labels = {
        "customer_number": _("%(word)s"),
        "new_customer_number": _("新しい契約の%(word)s"),
    }
    readonly_fields = [
        "reference",
        "kind",
        "move_date",
        "customer_number",
        "match_table",
        "phone",
        "email",
        "payment",
        "wants_membership",
        "new_name",
        "new_name_kana",
        "new_phone",
        "new_email",
        "relationship",
        "relationship_note",
        "member",
        "created_at",
        "handled_by",
        "handled_at",
        "new_number_by",
        "reached_at",
    ]
    fieldsets = [
        (
            _("お申し込み"),
            {"fields": ["reference", "kind", "move_date", "created_at", "member"]},
        ),
        (
            _("お客さま"),
            {
                "fields": [
                    "customer_number",
                    "match_table",
                    "name",
                    "name_kana",
                    "phone",
                    "email",
                    "address",
                    "building",
                    "final_bill_address",
                    "payment",
                    "wants_membership",
                ]
            },
        ),
        (
            _("新しい名義人(名義変更)"),
            {
                "fields": [
                    "new_name",
                    "new_name_kana",
                    "new_phone",
                    "new_email",
                    "relationship",
                    "relationship_note",
                ]
            },
        ),
        (
            _("対応"),
            {
                "fields": [
                    "status",
                    "staff_note",
                    "confirmed",
                    "new_customer_number",
                    "number_confirmed",
                    "new_number_by",
                    "reached_at",
                    "handled_by",
                    "handled_at",
                ]
            },
        ),
    ]

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.reached_at is not None:  # the number is read-only now
            fieldsets = [
                (title, {**opts, "fields": [f for f in opts["fields"] if f != "number_confirmed"]})
                for title, opts in fieldsets
            ]
        if obj is None or obj.kind == MoveApplication.Kind.NAME_CHANGE:
            return fieldsets
        shown = [f for f in fieldsets if "new_name" not in f[1]["fields"]]
        if obj.kind == MoveApplication.Kind.MOVE_IN:
            return shown
        # A move-out leads to no new contract.
        hidden = {"new_customer_number", "number_confirmed", "new_number_by", "reached_at"}
        return [
            (title, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for title, options in shown
        ]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.reached_at is not None:
            fields.append("new_customer_number")
        return fields

    actions = ["mark_processing", "export_selected"]

    @admin.action(description=_("選択した申込みを「処理中」にする"), permissions=["change"])
    def mark_processing(self, request: HttpRequest, queryset) -> None:
        """受付済 ones become 処理中, each mailed and logged as one by one; the others (要連絡
        awaits the customer, 完了 is final) stay. 完了 stays one at a time (a note, a tick)."""
        received = list(queryset.filter(status=Status.RECEIVED))
        for application in received:
            services.handle(request, application, Status.PROCESSING, "")
        if received:
            self.message_user(
                request,
                gettext("%(n)d件を「処理中」にし、お客さまにメールでお知らせしました。")
                % {"n": len(received)},
                messages.SUCCESS,
            )
        if left := queryset.count() - len(received):
            self.message_user(
                request,
                gettext(
                    "受付済でない%(n)d件はそのままです(要連絡・完了は1件ずつ開いて変えてください)。"
                )
                % {"n": left},
                messages.WARNING,
            )

    @admin.action(description=_("選択した申込みをCSVに書き出す"), permissions=["view"])
    def export_selected(self, request: HttpRequest, queryset) -> HttpResponse:
        """The chosen applications in the CIS's file (the same header and encoding)."""
        encoding = settings.PORTAL_MOVING_CSV_ENCODING
        body, skipped = export.export_csv(queryset, None, encoding)
        if skipped:
            messages.warning(request, export.skipped_message(encoding, skipped))
        response = HttpResponse(body, content_type=f"text/csv; charset={encoding}")
        day = timezone.localdate()
        response["Content-Disposition"] = f'attachment; filename="moves_selected_{day:%Y%m%d}.csv"'
        return response

    def get_ordering(self, request: HttpRequest) -> list:
        # Open ones by the nearest day first, the newest application first within a day.
        return ["move_date", "-created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # applications come from residents

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # kept for the CIS and the audit

    # The name under the number, not a column of its own: the list's tick column (the bulk
    # actions) took that width at 1280 px beside the navigation and the filters.
    @admin.display(description=_("受付番号・種類・お名前"), ordering="reference")
    def application(self, application: MoveApplication) -> str:
        return format_html(
            "{}<br>{}<br>{}",
            application.reference,
            application.get_kind_display(),
            application.name or "—",
        )

    @admin.display(description=_("照合"))
    def match_summary(self, application: MoveApplication) -> str:
        if not application.names_contract:
            return "—"
        if application.member_id and not application.match:
            return gettext("会員の契約")
        line = _match_line(_evidence(application.match, application.utility))
        if not application.matched:
            line = format_html(FLAG, line, gettext(UNMATCHED_SHORT))
        if application.status != Status.DONE and (why := ended_before(application)):
            line = format_html(FLAG, line, gettext(ENDED_SHORT[why]))
        return line

    @admin.display(description=_("照合結果"))
    def match_table(self, application: MoveApplication) -> str:
        if not application.names_contract:
            return "—"
        open_ = application.status != Status.DONE
        why = ended_before(application) if open_ else ""
        flags = [gettext(ENDED[why])] if why else []
        if not application.match:
            own = gettext("会員がログインして申し込んだ自分の契約です。")
            return format_html_join("", "<p>{}</p>", ((line,) for line in [own, *flags]))
        typed = {"signup_customer_number": application.customer_number}

        def value(name: str) -> str:
            return typed.get(name, getattr(application, name, ""))

        match = _evidence(application.match, application.utility)
        table = _evidence_table(match, value, application.customer)
        if not application.matched:
            flags.insert(0, gettext(UNMATCHED))
        return format_html(
            "{}{}", format_html_join("", "<p><strong>{}</strong></p>", ((f,) for f in flags)), table
        )

    def save_model(self, request: HttpRequest, obj: MoveApplication, form, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        corrected = [name for name in form.changed_data if name in services.CORRECTABLE]
        if corrected:
            services.correct(request, obj, {name: form.cleaned_data[name] for name in corrected})
        if "new_customer_number" in form.changed_data:  # before 完了, which reaches it
            services.set_new_number(request, obj, form.cleaned_data["new_customer_number"])
        if {"status", "staff_note"} & set(form.changed_data):
            confirmed = form.cleaned_data.get("confirmed", False)
            services.handle(request, obj, obj.status, obj.staff_note, confirmed=confirmed)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.export_csv_view)
        name = "moving_moveapplication_export_csv"
        return [path("export-csv/", view, name=name), *super().get_urls()]

    def export_csv_view(self, request: HttpRequest) -> HttpResponse:
        """The applications received since a day (``?since=YYYY-MM-DD``; today by default)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        encoding = settings.PORTAL_MOVING_CSV_ENCODING
        try:
            since = export.since_day(request.GET.get("since", ""))
        except ValueError:
            messages.error(request, gettext("日付は 2026-12-01 の形で指定してください。"))
            return redirect("admin:moving_moveapplication_changelist")
        queryset = super().get_queryset(request)
        body, skipped = export.export_csv(queryset, since, encoding)
        if skipped:
            messages.warning(request, export.skipped_message(encoding, skipped))
        response = HttpResponse(body, content_type=f"text/csv; charset={encoding}")
        response["Content-Disposition"] = f'attachment; filename="moves_{since:%Y%m%d}.csv"'
        return response

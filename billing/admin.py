from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal import normalize
from portal.admin import UtilityScopedAdmin

from . import integrity
from .imports import (
    CUSTOMER_COLUMNS,
    READING_COLUMNS,
    READING_OPTIONAL,
    ImportResult,
    import_customers,
    import_readings,
)
from .models import Customer, MeterReading


class CsvImportForm(forms.Form):
    file = forms.FileField(label=_("CSVファイル"))
    encoding = forms.ChoiceField(
        label=_("文字コード"),
        required=False,
        choices=[
            ("", _("自動(BOMがあればUTF-8 BOM付き、なければUTF-8)")),
            ("utf-8", "UTF-8"),
            ("utf-8-sig", _("UTF-8 (BOM付き)")),
            ("cp932", _("Shift_JIS (CP932)")),
        ],
    )
    dry_run = forms.BooleanField(
        label=_("検査だけを行う(書き込まない)"),
        required=False,
        initial=True,
        help_text=_("まず検査だけを行い、問題がなければチェックを外して取り込んでください。"),
    )


class ReadingsImportForm(CsvImportForm):
    replace_overlapping = forms.BooleanField(
        label=_("使用期間が重なる保存済みの検針を置き換える(訂正の取り込み)"),
        required=False,
        help_text=_(
            "チェックしないと、保存済みの使用期間と重なる行は取り込めません"
            "(replaces_period_end 列で置き換える期間を行ごとに指定することもできます)。"
        ),
    )


class CsvImportAdmin(UtilityScopedAdmin):
    """Adds 「CSVを取り込む」 to the list: the same importer as the management command.

    A staff member's upload may only hold rows of their own utility; superusers may load any.
    """

    import_csv: Callable[..., ImportResult]
    import_form: type[CsvImportForm] = CsvImportForm
    csv_columns: str = ""
    change_list_template = "admin/billing/change_list_import.html"

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_import_csv"
        view = self.admin_site.admin_view(self.import_csv_view)
        return [path("import-csv/", view, name=name), *super().get_urls()]

    def import_csv_view(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        allowed = self.has_add_permission(request) and self.has_change_permission(request)
        if not allowed or not (user.is_superuser or getattr(user, "utility_id", None)):
            raise PermissionDenied
        form = self.import_form(request.POST or None, request.FILES or None)
        result = None
        if request.method == "POST" and form.is_valid():
            options = dict(form.cleaned_data)
            upload, encoding = options.pop("file"), options.pop("encoding")
            upload.seek(0)
            result = type(self).import_csv(
                upload.file,
                encoding=encoding or None,
                utility=None if user.is_superuser else user.utility,
                **options,
            )
            if result.ok and not result.dry_run:
                messages.success(request, result.summary())
                for detail in result.details():
                    messages.warning(request, detail)
                return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
            if result.ok:  # a clean dry run: offer the real import next
                form = self.import_form(initial={**form.cleaned_data, "dry_run": False})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("%(name)sのCSVを取り込む") % {"name": self.opts.verbose_name},
            "form": form,
            "result": result,
            "columns": self.csv_columns,
            "utility": None if user.is_superuser else user.utility,
        }
        return TemplateResponse(request, "admin/billing/import_csv.html", context)


class CustomerAdminForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = [
            "utility",
            "number",
            "name",
            "name_kana",
            "address",
            "building",
            "phone",
            "meter_diameter_mm",
            "meter_number",
        ]

    def clean_phone(self) -> str:
        """Keep the digits only, as the importer does (076(220)2111, ０７６－２２０－２１１１)."""
        return normalize.phone(self.cleaned_data["phone"])


@admin.register(Customer)
class CustomerAdmin(CsvImportAdmin):
    form = CustomerAdminForm
    list_display = ["number", "name", "name_kana", "phone", "meter_diameter_mm", "utility"]
    customer_number_labels = {"number": "%(word)s"}
    list_filter = ["utility", "meter_diameter_mm"]
    search_fields = ["number", "name", "name_kana", "phone", "address"]
    list_select_related = ["utility"]
    show_full_result_count = False
    import_csv = staticmethod(import_customers)
    csv_columns = ",".join(CUSTOMER_COLUMNS)


class MeterReadingForm(forms.ModelForm):
    """The model's ``clean`` refuses a period that overlaps a stored one of the same contract."""

    class Meta:
        model = MeterReading
        # Not flag: it is set from the neighbouring periods when the reading is saved.
        fields = [
            "customer",
            "period_start",
            "period_end",
            "read_on",
            "previous_index",
            "current_index",
            "usage_m3",
            "water_charge",
            "sewer_charge",
            "tax",
            "total",
        ]


@admin.register(MeterReading)
class MeterReadingAdmin(CsvImportAdmin):
    form = MeterReadingForm
    utility_path = "customer__utility"
    list_display = ["customer", "period", "usage_m3", "total", "flag"]
    list_filter = ["flag", "customer__utility"]
    readonly_fields = ["flag"]
    search_fields = ["customer__number"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]
    date_hierarchy = "period_end"
    show_full_result_count = False
    import_csv = staticmethod(import_readings)
    import_form = ReadingsImportForm
    csv_columns = ",".join(READING_COLUMNS) + f" (任意: {','.join(READING_OPTIONAL)})"

    @admin.display(description=_("使用期間"), ordering="period_end")
    def period(self, obj: MeterReading) -> str:
        """Both ends in one column, as the overlap message writes a period."""
        return f"{obj.period_start.isoformat()}〜{obj.period_end.isoformat()}"

    def save_model(self, request: HttpRequest, obj: MeterReading, form, change: bool) -> None:
        before = MeterReading.objects.filter(pk=obj.pk).values_list("customer_id", flat=True)
        customers = {obj.customer_id, *before}
        super().save_model(request, obj, form, change)
        integrity.refresh_flags(customers)

    def delete_model(self, request: HttpRequest, obj: MeterReading) -> None:
        customer_id = obj.customer_id
        super().delete_model(request, obj)
        integrity.refresh_flags([customer_id])

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        customers = list(queryset.values_list("customer_id", flat=True).distinct())
        super().delete_queryset(request, queryset)
        integrity.refresh_flags(customers)

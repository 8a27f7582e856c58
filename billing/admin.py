from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal import normalize
from portal.admin import UtilityScopedAdmin

from . import importjobs, integrity
from .imports import CUSTOMER_COLUMNS, READING_COLUMNS, READING_OPTIONAL
from .models import Customer, ImportFile, ImportJob, MeterReading


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
    """Adds 「CSVを取り込む」 to the list: the same importer as the management command, run in
    the background (billing.importjobs): the upload is stored and queued, and its job page
    shows the state, the rows read so far and then the result.

    A staff member's upload may only hold rows of their own utility; superusers may load any.
    Staff see and start only their own utility's jobs.
    """

    import_kind: str
    import_form: type[CsvImportForm] = CsvImportForm
    csv_columns: str = ""
    change_list_template = "admin/billing/change_list_import.html"
    recent_jobs = 20

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}_import"
        wrap = self.admin_site.admin_view
        return [
            path("import-csv/", wrap(self.import_csv_view), name=f"{prefix}_csv"),
            path("import-csv/<int:job_id>/", wrap(self.import_job_view), name=f"{prefix}_job"),
            path(
                "import-csv/<int:job_id>/import/",
                wrap(self.import_again_view),
                name=f"{prefix}_job_import",
            ),
            *super().get_urls(),
        ]

    def _import_allowed(self, request: HttpRequest) -> None:
        user = request.user
        allowed = self.has_add_permission(request) and self.has_change_permission(request)
        if not allowed or not (user.is_superuser or getattr(user, "utility_id", None)):
            raise PermissionDenied

    def _jobs(self, request: HttpRequest):
        """This kind's jobs the user may see: their utility's, or every one for a superuser."""
        jobs = ImportJob.objects.filter(file__kind=self.import_kind).select_related("file")
        if request.user.is_superuser:
            return jobs
        return jobs.filter(file__utility_id=request.user.utility_id)

    def _job_url(self, job: ImportJob) -> str:
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_import_job"
        return reverse(name, args=[job.pk])

    def _context(self, request: HttpRequest, **extra) -> dict:
        user = request.user
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("%(name)sのCSVを取り込む") % {"name": self.opts.verbose_name},
            "columns": self.csv_columns,
            "utility": None if user.is_superuser else user.utility,
            **extra,
        }

    def import_csv_view(self, request: HttpRequest) -> HttpResponse:
        """The upload form and the recent jobs. A valid upload is stored and queued: the
        request never runs the import itself when a broker is configured."""
        self._import_allowed(request)
        user = request.user
        form = self.import_form(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            options = dict(form.cleaned_data)
            upload = options.pop("file")
            with transaction.atomic():
                stored = importjobs.store(
                    upload,
                    self.import_kind,
                    None if user.is_superuser else user.utility,
                    uploaded_by=user.get_username(),
                )
                job = importjobs.start(stored, started_by=user.get_username(), **options)
            return redirect(self._job_url(job))
        jobs = list(self._jobs(request)[: self.recent_jobs])
        context = self._context(request, form=form, jobs=jobs)
        return TemplateResponse(request, "admin/billing/import_csv.html", context)

    def _job(self, request: HttpRequest, job_id: int) -> ImportJob:
        self._import_allowed(request)
        return get_object_or_404(self._jobs(request), pk=job_id)

    def import_job_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        """One job: 待機中 / 取り込み中 (rows read so far) until done, reloading itself
        without JavaScript; then the result, and after a clean dry run 「この内容で取り込む」."""
        job = self._job(request, job_id)
        context = self._context(
            request,
            job=job,
            result=job.result,
            title=gettext("%(name)sのCSVの取り込み") % {"name": self.opts.verbose_name},
            refresh_seconds=None if job.finished else 2,
            can_import=job.state == ImportJob.State.DONE
            and job.dry_run
            and (job.result or {}).get("ok"),
        )
        return TemplateResponse(request, "admin/billing/import_job.html", context)

    def import_again_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        """「この内容で取り込む」: import the file a clean dry run checked, with its options."""
        job = self._job(request, job_id)
        if request.method != "POST":
            return redirect(self._job_url(job))
        if not (job.state == ImportJob.State.DONE and job.dry_run and (job.result or {}).get("ok")):
            messages.error(request, gettext("この検査結果からは取り込めません。"))
            return redirect(self._job_url(job))
        with transaction.atomic():
            new = importjobs.start(
                job.file,
                started_by=request.user.get_username(),
                encoding=job.encoding,
                dry_run=False,
                replace_overlapping=job.replace_overlapping,
            )
        return redirect(self._job_url(new))


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
    import_kind = ImportFile.Kind.CUSTOMERS
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
    import_kind = ImportFile.Kind.READINGS
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

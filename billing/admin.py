from __future__ import annotations

import functools
import secrets

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal import normalize
from portal.admin import ReadOnlyAdminMixin, UtilityScopedAdmin, customer_number_word, utility_of
from portal.models import Utility

from . import billmail, importjobs, integrity, notices, pdf, watch, web_slip
from .imports import CUSTOMER_COLUMNS, PAYMENT_COLUMNS, READING_COLUMNS, READING_OPTIONAL
from .imports.payments import PaymentRow, check_payment, correction_of, follow_reading
from .models import (
    Customer,
    ImportFile,
    ImportJob,
    IssuedDocument,
    MeterReading,
    Notice,
    Payment,
    Watch,
    WebSlip,
    masked_address,
)


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
    hold_mail = forms.BooleanField(
        label=_("お知らせメールを保留する"),
        required=False,
        help_text=_(
            "チェックすると、取り込んだ検針の「今月のご使用量・料金のお知らせ」と使用量の異常の"
            "お知らせを今は送りません(保留しない次の取り込みのときに送ります)。"
            "最初のチェックは事業者の設定「検針後のお知らせメールを保留する」のとおりです。"
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

    def import_initial(self, request: HttpRequest) -> dict:
        """The form's first values: 保留 as the staff member's utility holds by default."""
        utility = getattr(request.user, "utility", None)
        return {"hold_mail": bool(utility and utility.hold_bill_mail)}

    def import_page_extra(self, request: HttpRequest) -> dict:
        """More for the upload page (the readings' held mail)."""
        return {}

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
        form = self.import_form(
            request.POST or None, request.FILES or None, initial=self.import_initial(request)
        )
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
        context = self._context(request, form=form, jobs=jobs, **self.import_page_extra(request))
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
        new = importjobs.start_import(job, started_by=request.user.get_username())
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
    list_display = [
        "number",
        "name",
        "name_kana",
        "phone",
        "meter_diameter_mm",
        "latest_payment",
        "utility",
    ]
    customer_number_labels = {"number": "%(word)s"}
    list_filter = ["utility", "meter_diameter_mm"]
    search_fields = ["number", "name", "name_kana", "phone", "address"]
    list_select_related = ["utility"]
    show_full_result_count = False
    import_kind = ImportFile.Kind.CUSTOMERS
    csv_columns = ",".join(CUSTOMER_COLUMNS)

    def get_queryset(self, request: HttpRequest):
        # The latest bill's status and period in the same query as the list (no query a row).
        latest = Payment.objects.filter(customer=OuterRef("pk")).order_by("-period_end")
        return (
            super()
            .get_queryset(request)
            .annotate(
                latest_status=Subquery(latest.values("status")[:1]),
                latest_period_end=Subquery(latest.values("period_end")[:1]),
            )
        )

    @admin.display(description=_("最新の請求"), ordering="latest_status")
    def latest_payment(self, customer: Customer) -> str:
        """「振替不能(2026-10-25まで)」 linking to the contract's bills; 「—」 with none."""
        status = getattr(customer, "latest_status", None)
        if status is None:
            return "—"
        url = reverse("admin:billing_payment_changelist") + f"?customer__id__exact={customer.pk}"
        text = gettext("%(status)s(%(end)sまで)") % {
            "status": Payment.Status(status).label,
            "end": customer.latest_period_end.isoformat(),
        }
        return format_html('<a href="{}">{}</a>', url, text)

    def save_model(self, request: HttpRequest, obj: Customer, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        values = {name: getattr(obj, name) for name in pdf.PRINTED}
        for warning in pdf.unprintable_warnings(None, values):
            self.message_user(request, warning, messages.WARNING)


class MeterReadingForm(forms.ModelForm):
    """The model's ``clean`` refuses a period that overlaps a stored one of the same contract.

    Saved, the reading is mailed at once as an import's are (``billmail``: once per reading, a
    correction for a new total), unless 「お知らせメールを保留する」 is ticked (its first value is
    the utility's 「検針後のお知らせメールを保留する」)."""

    hold_mail = forms.BooleanField(
        label=_("お知らせメールを保留する"),
        required=False,
        help_text=_(
            "チェックすると、この検針の「今月のご使用量・料金のお知らせ」と使用量の異常の"
            "お知らせを今は送りません(保留しない次の保存か取り込みのときに送ります)。"
            "金額を変えて保存すると、お知らせ済みの会員には訂正のお知らせを送ります。"
        ),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "hold_mail" not in self.initial:
            # A change: 保留 as the reading's utility holds by default.
            self.initial["hold_mail"] = self.instance.customer.utility.hold_bill_mail

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

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_release_mail"
        view = self.admin_site.admin_view(self.release_mail_view)
        return [path("import-csv/release-mail/", view, name=name), *super().get_urls()]

    def _mail_utilities(self, request: HttpRequest) -> list[Utility]:
        """Whose held mail the user may send: their utility's, or every one for a superuser."""
        if request.user.is_superuser:
            return list(Utility.objects.order_by("pk"))
        return [request.user.utility]

    def import_page_extra(self, request: HttpRequest) -> dict:
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_release_mail"
        unsent = sum(billmail.due_mail_count(u) for u in self._mail_utilities(request))
        return {"release_url": reverse(name), "unsent_mails": unsent}

    def release_mail_view(self, request: HttpRequest) -> HttpResponse:
        """「保留中のお知らせメールを送る」: mail what imports held, without importing again."""
        self._import_allowed(request)
        back = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import_csv")
        if request.method != "POST":
            return redirect(back)
        utilities = self._mail_utilities(request)
        count = sum(billmail.due_mail_count(u) for u in utilities)
        billmail.start([u.pk for u in utilities])
        messages.success(
            request,
            gettext("お知らせメール %(count)s 通を送ります(送信はワーカーが行います)。")
            % {"count": count},
        )
        return redirect(back)

    @admin.display(description=_("使用期間"), ordering="period_end")
    def period(self, obj: MeterReading) -> str:
        """Both ends in one column, as the overlap message writes a period."""
        return f"{obj.period_start.isoformat()}〜{obj.period_end.isoformat()}"

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        return {**super().get_changeform_initial_data(request), **self.import_initial(request)}

    def _changeform_view(self, request, object_id, form_url, extra_context):
        try:
            with transaction.atomic():
                return super()._changeform_view(request, object_id, form_url, extra_context)
        except IntegrityError:
            # PostgreSQL: another writer (a second click, other staff, an import) committed a
            # period clashing with this one after the form was checked, and the database refused
            # this save. Nothing of it stays; checked again, the form names the stored period.
            return super()._changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: MeterReading, form, change: bool) -> None:
        fields = ("customer_id", "period_start", "period_end")
        before = MeterReading.objects.filter(pk=obj.pk).values_list(*fields).first()
        customers = {obj.customer_id, *before[:1]} if before else {obj.customer_id}
        moved = before is not None and before != (obj.customer_id, obj.period_start, obj.period_end)
        super().save_model(request, obj, form, change)
        if moved and before[0] == obj.customer_id:
            self._follow_period(request, obj, *before[1:])
        integrity.refresh_flags(customers)
        # As an import that does not hold: every reading of the utility still to announce.
        hold = form.cleaned_data.get("hold_mail", False)
        billmail.start(billmail.utilities_to_mail([obj.customer.utility_id], hold))

    def _follow_period(self, request: HttpRequest, obj: MeterReading, start, end) -> None:
        """The bill of the period goes with it as on import (or stays, and staff are told)."""
        result = follow_reading(obj, start, end)
        for row in result.moved_bills:
            message = gettext(
                "請求(%(start)s〜%(end)s)を訂正後の使用期間 %(new_start)s〜%(new_end)s へ移しました。"
            )
            names = dict(zip(("start", "end", "new_start", "new_end"), row[2:], strict=True))
            messages.info(request, message % names)
        for warning in result.warnings:
            messages.warning(request, warning.split(": ", 2)[-1])  # no line: not from a file

    def delete_model(self, request: HttpRequest, obj: MeterReading) -> None:
        customer_id = obj.customer_id
        super().delete_model(request, obj)
        integrity.refresh_flags([customer_id])

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        customers = list(queryset.values_list("customer_id", flat=True).distinct())
        super().delete_queryset(request, queryset)
        integrity.refresh_flags(customers)


class PaymentForm(forms.ModelForm):
    """A bill typed in the admin is held to the importer's rule (check_payment) and, like an
    imported one, to the period of the contract's stored reading."""

    class Meta:
        model = Payment
        fields = [
            "customer",
            "period_start",
            "period_end",
            "billed_amount",
            "due_date",
            "method",
            "paid_on",
            "paid_amount",
            "status",
        ]

    def clean(self) -> dict:
        data = super().clean()
        needed = ("customer", "period_start", "period_end", "billed_amount", "due_date")
        if self.errors or any(data.get(name) is None for name in needed):
            return data
        customer, start, end = data["customer"], data["period_start"], data["period_end"]
        row = PaymentRow(
            0,
            customer.utility_id,
            customer.number,
            start.isoformat(),
            end.isoformat(),
            data["billed_amount"],
            data["due_date"].isoformat(),
            data["method"],
            data["paid_on"].isoformat() if data.get("paid_on") else None,
            data.get("paid_amount") or 0,
            data["status"],
        )
        max_days = integrity.max_period_days(customer.utility.billing_cycle_months)
        for error in check_payment(row, max_days, timezone.localdate()):
            self.add_error(error.column if error.column in self.fields else None, error.message)
        reading = (
            MeterReading.objects.filter(
                customer=customer, period_start__lte=end, period_end__gte=start
            )
            .exclude(period_start=start, period_end=end)
            .first()
        )
        moved = correction_of(customer.pk, end)  # told as the importer tells it
        if moved is not None:
            self.add_error("period_end", moved)
        elif reading is not None:
            message = gettext("保存済みの検針の使用期間(%(start)s〜%(end)s)と一致しません。")
            self.add_error(
                "period_start",
                message % {"start": reading.period_start, "end": reading.period_end},
            )
        if moved is None:  # as the importer: a corrected period is told only that
            self._refuse_overlapping_bills(customer, start, end)
        return data

    def _refuse_overlapping_bills(self, customer: Customer, start, end) -> None:
        """A contract's bills never overlap, as on import: each other bill sharing a day is
        named beside the period. One of the same end is the same bill (the unique check says)."""
        if end < start:
            return
        others = (
            Payment.objects.filter(customer=customer, period_start__lte=end, period_end__gte=start)
            .exclude(period_end=end)
            .exclude(pk=self.instance.pk)
            .order_by("period_start")
        )
        message = gettext("保存済みの請求の使用期間(%(start)s〜%(end)s)と重なります。")
        for other in others:
            names = {"start": other.period_start, "end": other.period_end}
            self.add_error("period_start", message % names)


@admin.register(Payment)
class PaymentAdmin(CsvImportAdmin):
    """請求・収納: filter by 状態 and by the period's month for, say, the 振替不能 of October."""

    form = PaymentForm
    utility_path = "customer__utility"
    list_display = [
        "customer",
        "period",
        "billed_amount",
        "due_date",
        "method",
        "paid_on",
        "paid_amount",
        "status",
        "customer__utility",
    ]
    list_filter = ["status", "method", "customer__utility"]
    date_hierarchy = "period_end"
    search_fields = ["customer__number", "customer__name"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]
    readonly_fields = ["imported_at"]
    show_full_result_count = False
    import_kind = ImportFile.Kind.PAYMENTS
    csv_columns = ",".join(PAYMENT_COLUMNS)

    @admin.display(description=_("使用期間"), ordering="period_end")
    def period(self, obj: Payment) -> str:
        return f"{obj.period_start.isoformat()}〜{obj.period_end.isoformat()}"

    def _changeform_view(self, request, object_id, form_url, extra_context):
        if request.method == "POST" and connection.vendor == "postgresql":
            # Checked against the stored bills and saved with no other writer in between: the
            # payments importer's lock (SQLite's transactions take turns anyway). A second save
            # or an import waits for this one, then sees its bill; readers do not wait.
            table = connection.ops.quote_name(Payment._meta.db_table)
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        return super()._changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Payment, form, change: bool) -> None:
        # What residents read as 「…までに確認できたお支払い」: a hand edit is news as an import is.
        obj.imported_at = timezone.now()
        super().save_model(request, obj, form, change)


class NoticeAdminForm(forms.ModelForm):
    """A targeted notice must reach some contract: each area and number is checked here, and
    the ones that reach none are named beside their field before the notice can be saved.

    The add form carries a one-time token (``add_token``), kept on the notice it saved: the
    same form posted again (a double click on 保存) finds that notice instead of a second one.
    """

    add_token = forms.CharField(
        widget=forms.HiddenInput,
        required=False,
        max_length=32,
        initial=lambda: secrets.token_urlsafe(16),
    )

    class Meta:
        model = Notice
        fields = [
            "utility",
            "title",
            "category",
            "important",
            "body",
            "publish_at",
            "expire_at",
            "audience",
            "area_prefixes",
            "customer_numbers",
            "public",
            "mail_members",
        ]

    def clean(self) -> dict:
        data = super().clean()
        publish_at, expire_at = data.get("publish_at"), data.get("expire_at")
        if publish_at and expire_at and expire_at <= publish_at:
            self.add_error("expire_at", _("掲載終了日時は掲載開始日時より後にしてください。"))
        if data.get("mail_members") and not data.get("important"):
            self.add_error("mail_members", _("メールで送れるのは「重要」のお知らせだけです。"))
        elif data.get("mail_members") and self._ended_before_mailing(expire_at):
            message = _(
                "掲載終了日時が過ぎているため、メールは送れません。"
                "チェックを外すか、掲載終了日時を直してください。"
            )
            self.add_error("mail_members", message)
        utility, audience = data.get("utility"), data.get("audience")
        if audience == Notice.Audience.AREAS:
            self._check_areas(utility, data)
        elif audience == Notice.Audience.CUSTOMERS:
            self._check_numbers(utility, data)
        return data

    def _ended_before_mailing(self, expire_at) -> bool:
        # The mailing starts only while the notice is published (notices.is_due).
        ended = expire_at is not None and expire_at <= timezone.now()
        return ended and self.instance.mailed_at is None

    def _check_areas(self, utility, data: dict) -> None:
        areas = notices.clean_areas(data.get("area_prefixes", ""))
        data["area_prefixes"] = "\n".join(areas)
        if not areas:
            self.add_error("area_prefixes", _("対象の地域を1行に1つ入力してください。"))
        elif len(areas) > notices.MAX_AREAS:
            message = _("対象の地域は%(max)s行までです。") % {"max": notices.MAX_AREAS}
            self.add_error("area_prefixes", message)
        elif utility is not None:
            missing = notices.areas_without_contracts(utility, areas)
            if missing:
                message = _("次の地域に当たる契約がありません: %(areas)s") % {
                    "areas": "、".join(f"「{a}」" for a in missing)
                }
                self.add_error("area_prefixes", message)

    def _check_numbers(self, utility, data: dict) -> None:
        digits = utility.customer_number_digits if utility else 0
        numbers, bad, several = notices.clean_numbers(data.get("customer_numbers", ""), digits)
        data["customer_numbers"] = "\n".join(numbers)
        word = utility.customer_number_label if utility else gettext("お客様番号")
        if several:
            for line in several[:20]:
                message = _("%(line)s行目: 1行に1つの番号を入力してください") % {"line": line}
                self.add_error("customer_numbers", message)
        elif bad:
            message = _("数字ではない行があります: %(lines)s") % {
                "lines": "、".join(f"「{line}」" for line in bad[:20])
            }
            self.add_error("customer_numbers", message)
        elif not numbers:
            message = _("対象の%(word)sを1行に1つ入力してください。") % {"word": word}
            self.add_error("customer_numbers", message)
        elif len(numbers) > notices.MAX_NUMBERS:
            message = _("対象の%(word)sは%(max)s件までです。") % {
                "word": word,
                "max": f"{notices.MAX_NUMBERS:,}",
            }
            self.add_error("customer_numbers", message)
        elif utility is not None:
            unknown = notices.unknown_numbers(utility, numbers)
            if unknown:
                shown = "、".join(unknown[:20])
                more = len(unknown) - 20
                message = _("次の%(word)sの契約がありません: %(numbers)s") % {
                    "word": word,
                    "numbers": shown + (_("ほか%(n)s件") % {"n": more} if more > 0 else ""),
                }
                self.add_error("customer_numbers", message)


class AlreadySaved(Exception):
    """The add form posted was saved before, as notice ``pk``."""

    def __init__(self, pk: int) -> None:
        super().__init__(pk)
        self.pk = pk


@admin.register(Notice)
class NoticeAdmin(UtilityScopedAdmin):
    form = NoticeAdminForm
    customer_number_labels = {"customer_numbers": _("対象の%(word)s")}
    list_display = [
        "title",
        "kind",
        "publish_at",
        "expire_at",
        "target",
        "mail_state",
        "utility",
    ]
    # No filter column: the list must fit 1280 px beside it; search and the dates do instead.
    search_fields = ["title", "body"]
    list_select_related = ["utility"]
    date_hierarchy = "publish_at"

    @admin.display(description=_("種類"), ordering="category")
    def kind(self, notice: Notice) -> str:
        label = notice.get_category_display()
        return gettext("%(kind)s(重要)") % {"kind": label} if notice.important else label

    @admin.display(description=_("対象"), ordering="audience")
    def target(self, notice: Notice) -> str:
        """Who reads it: 「全会員」, 「地域 2件」 or 「契約 30件」, and 「・ログイン画面」 if public."""
        if notice.audience == Notice.Audience.AREAS:
            target = gettext("地域 %(n)s件") % {"n": len(notice.prefixes)}
        elif notice.audience == Notice.Audience.CUSTOMERS:
            target = gettext("契約 %(n)s件") % {"n": len(notice.numbers)}
        else:
            target = gettext("全会員")
        return target + gettext("・ログイン画面") if notice.public else target

    @admin.display(description=_("メール"))
    def mail_state(self, notice: Notice) -> str:
        if not notice.mail_members:
            return "—"
        if notice.mailed_at:
            return gettext("送信済み")
        if notice.expire_at and notice.expire_at <= timezone.now():
            return gettext("送信しません(掲載終了済み)")
        return gettext("送信中") if notice.mail_touched_at else gettext("掲載開始後に送信")

    def get_fields(self, request: HttpRequest, obj=None):
        fields = super().get_fields(request, obj)
        return fields if obj is None else [f for f in fields if f != "add_token"]

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        """The form in the staff's word for the customer number (「ポータル登録番号の一覧で指定」)."""
        word = customer_number_word(request, utility_of(obj))
        help_text = gettext("対象が「%(word)sの一覧」のとき、1行に1つ。") % {"word": word}
        kwargs["help_texts"] = {"customer_numbers": help_text, **kwargs.get("help_texts", {})}
        form = super().get_form(request, obj, change, **kwargs)
        audience = form.base_fields.get("audience")
        if audience is not None:  # a fresh field per form class: no other request sees this
            listed = gettext("%(word)sの一覧で指定") % {"word": word}
            audience.choices = [
                (value, listed if value == Notice.Audience.CUSTOMERS else label)
                for value, label in audience.choices
            ]
        return form

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except AlreadySaved as saved:
            messages.info(request, gettext("このお知らせはすでに保存されています。"))
            return redirect("admin:billing_notice_change", saved.pk)

    def save_model(self, request: HttpRequest, obj: Notice, form, change: bool) -> None:
        token = form.cleaned_data.get("add_token", "")
        if not change and token:
            obj.form_token = token
            try:
                with transaction.atomic():
                    super().save_model(request, obj, form, change)
            except IntegrityError:
                # The same add form was saved already (PostgreSQL waits for that first
                # request to commit before it refuses the token): nothing of this one stays.
                first = Notice.objects.filter(form_token=token).values_list("pk", flat=True)
                if not first:
                    raise
                raise AlreadySaved(first[0]) from None
        else:
            super().save_model(request, obj, form, change)
        if notices.is_due(obj, timezone.now()):
            pk = obj.pk
            transaction.on_commit(lambda: notices.start_mailing(pk))


@functools.cache  # one column per word: the admin finds sortable columns by identity
def _number_column(word: str):
    @admin.display(description=word, ordering="customer__number")
    def number(slip: WebSlip) -> str:
        return slip.customer.number

    return number


@admin.register(WebSlip)
class WebSlipAdmin(ReadOnlyAdminMixin, UtilityScopedAdmin):
    """Web明細: the contracts whose paper slip a member stopped or restarted, read only, and
    「CSVを書き出す」 for the utility's CIS in its encoding (PORTAL_WEB_SLIP_CSV_ENCODING)."""

    utility_path = "customer__utility"
    list_display = ["customer__number", "name", "chosen_on", "paper", "customer__utility"]
    list_filter = ["paper_stopped", "customer__utility"]
    search_fields = ["customer__number", "customer__name"]
    list_select_related = ["customer"]
    change_list_template = "admin/billing/change_list_web_slip.html"
    fields = ["customer", "paper_stopped", "chosen_on"]
    readonly_fields = fields

    def get_list_display(self, request: HttpRequest):
        """The number column under the staff's word for it (「ポータル登録番号」)."""
        column = _number_column(customer_number_word(request))
        columns = super().get_list_display(request)
        return [column if c == "customer__number" else c for c in columns]

    @admin.display(description=_("契約者名"), ordering="customer__name")
    def name(self, slip: WebSlip) -> str:
        return slip.customer.name

    @admin.display(description=_("紙の検針票"), ordering="paper_stopped")
    def paper(self, slip: WebSlip) -> str:
        return web_slip.state_word(slip.paper_stopped)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.export_csv_view)
        name = "billing_webslip_export_csv"
        return [path("export-csv/", view, name=name), *super().get_urls()]

    def export_csv_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        encoding = settings.PORTAL_WEB_SLIP_CSV_ENCODING
        try:
            body = web_slip.export_csv(self.get_queryset(request), encoding)
        except web_slip.CannotEncode as exc:
            message = gettext(
                "%(encoding)sで書けない文字を含む契約があるため、書き出せませんでした: %(numbers)s"
            ) % {"encoding": encoding, "numbers": "、".join(exc.numbers)}
            messages.error(request, message)
            return redirect("admin:billing_webslip_changelist")
        response = HttpResponse(body, content_type=f"text/csv; charset={encoding}")
        day = timezone.localdate().strftime("%Y%m%d")
        response["Content-Disposition"] = f'attachment; filename="web_slip_{day}.csv"'
        return response


@admin.register(IssuedDocument)
class IssuedDocumentAdmin(ReadOnlyAdminMixin, UtilityScopedAdmin):
    """発行済みの書類: every 適格請求書 and 領収済・収納済の証明 issued, read only, each PDF
    downloadable as it was issued (kept seven years, billing/documents.py)."""

    utility_path = "customer__utility"
    # The 書類番号 holds the contract's number and the revision: no columns of their own
    # (the list fits 1280 px beside the filters); search finds a contract's number too.
    list_display = ["number", "kind", "period_end", "issued_at", "customer__utility"]
    list_filter = ["kind", "customer__utility"]
    search_fields = ["number", "customer__number"]
    list_select_related = ["customer"]
    fields = [
        "number",
        "kind",
        "customer",
        "period_end",
        "revision",
        "issued_at",
        "facts_sha256",
        "pdf_sha256",
        "download",
    ]
    readonly_fields = fields

    @admin.display(description=_("PDF"))
    def download(self, document: IssuedDocument) -> str:
        url = reverse("admin:billing_issueddocument_pdf", args=[document.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("発行したPDFを開く"))

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.pdf_view)
        name = "billing_issueddocument_pdf"
        return [path("<int:pk>/pdf/", view, name=name), *super().get_urls()]

    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        # Scoped as the list is: another utility's document is a 404.
        document = get_object_or_404(self.get_queryset(request), pk=pk)
        response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
        response["Content-Disposition"] = content_disposition_header(
            False, f"{document.number}.pdf"
        )
        add_never_cache_headers(response)
        return response


@admin.register(Watch)
class WatchAdmin(ReadOnlyAdminMixin, UtilityScopedAdmin):
    """見守りメール: who registered a second address, whether that person consented and when,
    the threshold and whether it was stopped; read only, the utility's own members only.
    The second person's address is shown masked (its first letter and domain): staff can
    answer 「登録されていますか」 without the list handing out a third party's address."""

    utility_path = "member__utility"
    list_display = [
        "member_login",
        "member_name",
        "address",
        "threshold",
        "consented_at",
        "state",
        "member__utility",
    ]
    list_filter = [
        ("consented_at", admin.EmptyFieldListFilter),
        ("stopped_at", admin.EmptyFieldListFilter),
        "member__utility",
    ]
    search_fields = ["member__login_id", "member__name"]
    list_select_related = ["member"]
    ordering = ["-created_at"]
    fields = [
        "member_login",
        "member_name",
        "address",
        "threshold",
        "created_at",
        "consent_expires_at",
        "consented_at",
        "consented_address",
        "stopped_at",
        "state",
    ]
    readonly_fields = fields

    @admin.display(description=_("会員のログインID"), ordering="member__login_id")
    def member_login(self, item: Watch) -> str:
        return item.member.login_id

    @admin.display(description=_("会員の氏名"), ordering="member__name")
    def member_name(self, item: Watch) -> str:
        return item.member.name

    @admin.display(description=_("見守る方のメールアドレス"))
    def address(self, item: Watch) -> str:
        return masked_address(item.email)

    @admin.display(description=_("同意したメールアドレス"))
    def consented_address(self, item: Watch) -> str:
        return masked_address(item.consented_email) if item.consented_email else "-"

    @admin.display(description=_("お知らせする使用水量"), ordering="threshold_m3")
    def threshold(self, item: Watch) -> str:
        return gettext("%(m3)s m³未満") % {"m3": item.threshold_m3}

    @admin.display(description=_("状態"))
    def state(self, item: Watch) -> str:
        return watch.state_word(item)

"""Staff admin for members: pending first, the contract match at a glance, 承認 and 否認."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models import (
    Case,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import OrderBy
from django.db.models.functions import Coalesce, Left, StrIndex
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from billing.models import Customer
from portal import normalize
from portal.admin import PortalAdmin, UtilityScopedAdmin, UtilityScopedInline
from portal.models import Utility

from .backends import STAFF_SCOPE, staff_lockout_keys
from .forms.signup import checked_phone
from .history import describe
from .models import ContractLink, ContractRequest, LoginLock, Member, MemberEvent, japanese_time
from .services import review
from .validators import validate_login_id, validate_plain_email, validate_staff_login_id

MATCH_ITEMS = [
    ("number", _("番号"), "signup_customer_number", "number"),
    ("name", _("氏名"), "name", "name"),
    ("name_kana", _("カナ"), "name_kana", "name_kana"),
    ("phone", _("電話"), "phone", "phone"),
    ("address", _("住所"), "address", "address"),
]


def _mark(ok: bool) -> str:
    return "○" if ok else "×"


class ContractLinkInline(UtilityScopedInline):
    model = ContractLink
    fk_name = "member"
    # Stacked: with 使用開始日 and 使用終了日 beside the contract, a row of five columns squeezed
    # 承認日時 to 94 px at 1280 px and split its date across lines.
    template = "admin/edit_inline/stacked.html"
    extra = 0
    autocomplete_fields = ["customer"]
    readonly_fields = ["approved_by", "approved_at"]


class MemberEventInline(UtilityScopedInline):
    model = MemberEvent
    fk_name = "member"
    extra = 0
    can_delete = False
    fields = ["when", "actor", "sentence"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("日時"))
    def when(self, event: MemberEvent) -> str:
        return japanese_time(event.created_at)

    @admin.display(description=_("内容"))
    def sentence(self, event: MemberEvent) -> str:
        # event.member is the page's member (the inline's parent): one utility for every row.
        return describe(event, number_word=event.member.utility_word)


class ContractRequestInline(UtilityScopedInline):
    model = ContractRequest
    fk_name = "member"
    extra = 0
    can_delete = False
    fields = ["created_at", "customer_number", "status", "reviewed_by", "reviewed_at"]
    customer_number_labels = {"customer_number": _("入力された%(word)s")}
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def _asked_member_fields(utility: Utility) -> dict[str, bool]:
    """Whether ``utility`` asks for each of the member's optional answers (signup or 会員情報)."""
    return {
        "name_kana": utility.asks_kana,
        "address": utility.asks_address,
        "building": utility.asks_address,
        "secret_question": utility.asks_secret_question,
        "tax_declaration": utility.asks_tax_declaration
        or bool(utility.invoice_registration_number),
        "referral": utility.asks_referral,
        "relation": utility.asks_relation,
        "payment_method": utility.asks_payment_method,
    }


class MemberAdminForm(forms.ModelForm):
    contract_number = forms.CharField(
        label=_("照合する契約の番号"),  # with the member's utility's word, in __init__
        required=False,
        max_length=40,
        help_text=_(
            "入力された番号の契約が見つからない場合や別の契約の場合に、正しい契約の番号を入力して"
            "保存してください。保存後に「承認」できます。"
        ),
    )

    class Meta:
        model = Member
        fields = [
            "status",
            "rejection_reason",
            "utility",
            "login_id",
            "email",
            "name",
            "name_kana",
            "phone",
            "address",
            "building",
            "secret_question",
            "tax_declaration",
            "referral",
            "relation",
            "payment_method",
            "is_staff",
            "is_superuser",
            "groups",
        ]

    # Set by MemberAdmin.get_form for staff of a utility: their saves land in it, whatever
    # the form says (UtilityScopedAdmin.save_model), so the checks look there too.
    forced_utility_id: int | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        label = gettext("照合する契約の%(word)s") % {"word": self.instance.utility_word}
        self.fields["contract_number"].label = label

    def clean(self) -> dict:
        data = super().clean()
        self._check_login_id(data)
        self._refuse_taken(data)
        return data

    def _saved(self, data: dict, name: str):
        """The value a field will be saved with: as typed, else (read-only) as it is."""
        return data[name] if name in data else getattr(self.instance, name)

    def _saved_utility_id(self, data: dict) -> int | None:
        utility = self._saved(data, "utility")
        return self.forced_utility_id or (utility.pk if utility else None)

    def _check_login_id(self, data: dict) -> None:
        """Hold a login ID that staff typed to the rule a resident meets at signup (staff
        accounts: the staff rule), normalised as it is looked up at login. An ID that
        was not changed is kept as it is, so older IDs do not stop other edits."""
        if "login_id" not in data or (self.instance.pk and "login_id" not in self.changed_data):
            return
        login_id = data["login_id"] = normalize.identifier(data["login_id"])
        utility = Utility.objects.filter(pk=self._saved_utility_id(data)).first()
        try:
            if self._saved(data, "is_staff"):
                validate_staff_login_id(login_id)
            elif login_id or (utility is not None and not utility.logs_in_with_email):
                validate_login_id(login_id)
        except forms.ValidationError as error:
            self.add_error("login_id", error)

    def _refuse_taken(self, data: dict) -> None:
        """Say beside the field that a login ID or address is taken, where the database's
        unique constraints (Member.Meta) would refuse the save with an error page."""
        utility_id = self._saved_utility_id(data)
        login_id, email = data.get("login_id"), data.get("email")
        others = Member.objects.exclude(pk=self.instance.pk)
        if self._saved(data, "is_staff"):
            # Staff log in to the admin without a utility: their login IDs are global.
            holders, email = others.filter(is_staff=True), None
        elif self._saved(data, "status") != Member.Status.WITHDRAWN:
            holders = others.filter(utility_id=utility_id, is_staff=False).exclude(
                status=Member.Status.WITHDRAWN
            )
        else:
            return  # a withdrawn member gives both back
        if login_id and holders.filter(login_id__iexact=login_id).exists():
            self.add_error(
                "login_id",
                forms.ValidationError(_("このログインIDは既に使用されています。"), code="taken"),
            )
        if email and holders.filter(email__iexact=email).exists():
            self.add_error(
                "email",
                forms.ValidationError(
                    _("このメールアドレスは既に他の会員が使用しています。"), code="taken"
                ),
            )

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        validate_plain_email(email)
        return email

    def clean_phone(self) -> str:
        phone = normalize.phone(self.cleaned_data["phone"])
        return checked_phone(phone) if phone else ""

    def clean_contract_number(self) -> str:
        number = normalize.digits(self.cleaned_data["contract_number"])
        if not number:
            return ""
        utility_id = self.instance.utility_id
        if not Customer.objects.filter(utility_id=utility_id, number=number).exists():
            raise forms.ValidationError(_("この番号の契約は見つかりません。"), code="not_found")
        return number


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("否認の理由"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("お客さまへのメールにそのまま載ります。丁寧な言葉でお書きください。"),
        error_messages={"required": _("否認の理由を入力してください。")},
    )


def _evidence(match: dict | None, utility: Utility | None) -> dict:
    """The stored match as staff weigh it: a nickname (seed 003's お名前) is no evidence, also
    in matches stored before matching left it out (accounts.services.matching)."""
    match = dict(match or {})
    if utility is not None and utility.name_is_nickname:
        match.pop("name", None)
    return match


def _match_line(match: dict | None) -> str:
    """Say each matched item at a glance: 「番号○ 氏名○ 電話× 住所○」, each item unbroken."""
    if not match:
        return "—"
    return format_html_join(
        " ",
        '<span class="match-item">{}{}</span>',
        (
            (label, _mark(match[key]))
            for key, label, _typed, _contract in MATCH_ITEMS
            if key in match
        ),
    )


def _evidence_table(match: dict, typed: Callable[[str], str], customer: Customer | None) -> str:
    """The typed values against the contract's, item by item, with ○/× (README "Staff review")."""
    not_found = gettext("(見つかりません)")
    rows = [
        (
            label,
            typed(typed_field) or "—",
            (getattr(customer, on_contract) or "—") if customer else not_found,
            _mark(match[key]),
        )
        for key, label, typed_field, on_contract in MATCH_ITEMS
        if key in match
    ]
    body = format_html_join("", "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
    return format_html(
        '<table class="match-table"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th>'
        "</tr></thead><tbody>{}</tbody></table>",
        gettext("項目"),
        gettext("入力された値"),
        gettext("契約の値"),
        gettext("一致"),
        body,
    )


def _review_buttons(table: str, approve_form: str, send_back: str) -> str:
    """「承認」 and ``send_back`` (「差し戻し」) under the evidence. No form may sit inside the
    change form, so 承認 submits the (empty) form ``approve_form`` in the page's object tools."""
    return format_html(
        '{}<p class="review-buttons"><button type="submit" form="{}" class="button default">'
        "{}</button> {}</p>",
        table,
        approve_form,
        gettext("承認"),
        send_back,
    )


# The confirmation page's box for each member to approve (README "Staff review").
APPROVE_FIELD = "approve_member"


@dataclass(frozen=True)
class ApprovalRow:
    """One member on the 「承認」 confirmation page, with their evidence at a glance.

    A member whose typed values all match the contract is ticked; one with a × is listed
    unticked, for staff to tick after checking; one without a contract cannot be ticked.
    """

    member: Member
    match_line: str
    contract_found: bool
    all_match: bool

    @classmethod
    def of(cls, member: Member) -> ApprovalRow:
        match = _evidence(member.signup_match, member.utility)
        found = bool(match.get("customer_id"))
        every = [match[key] for key, *_rest in MATCH_ITEMS if key in match]
        return cls(member, _match_line(match), found, found and all(every))

    @property
    def ticked(self) -> bool:
        return self.all_match


def _pending_first(pending: str) -> OrderBy:
    """Order rows waiting for staff before every other row (the changelist's ordering wins
    over any queryset ordering, so this goes through ``get_ordering``)."""
    return Case(
        When(status=pending, then=Value(0)), default=Value(1), output_field=IntegerField()
    ).asc()


@admin.register(Member)
class MemberAdmin(UtilityScopedAdmin):
    form = MemberAdminForm
    # Beside the navigation and the filters, 1280 px leaves a list 631 px: the address (a
    # member who logs in by email is listed by it anyway) and 退会日時 (the state says 退会)
    # are on the member's page, and searching finds a member by address.
    list_display = ["__str__", "name", "status", "match_summary", "utility", "joined"]
    list_filter = ["status", "utility", "is_staff"]
    search_fields = ["login_id", "email", "name", "name_kana", "phone", "signup_customer_number"]
    customer_number_labels = {"signup_customer_number": _("申請時の%(word)s")}
    list_select_related = ["utility"]
    readonly_fields = [
        "match_table",
        "last_login",
        "date_joined",
        "signup_customer_number",
        "reviewed_by",
        "reviewed_at",
        "withdrawn_at",
        "recovery_locked_until",
    ]
    fieldsets = [
        (
            _("審査"),
            {
                "fields": [
                    "status",
                    "match_table",
                    "contract_number",
                    "rejection_reason",
                    "reviewed_by",
                    "reviewed_at",
                ]
            },
        ),
        (
            _("会員情報"),
            {
                "fields": [
                    "utility",
                    "login_id",
                    "email",
                    "name",
                    "name_kana",
                    "phone",
                    "address",
                    "building",
                    "signup_customer_number",
                    "secret_question",
                    "tax_declaration",
                    "referral",
                    "relation",
                    "payment_method",
                ]
            },
        ),
        (
            _("権限と日時"),
            {"fields": ["is_staff", "is_superuser", "groups", "last_login", "date_joined"]},
        ),
        (_("退会"), {"fields": ["withdrawn_at"]}),
        (_("ログインID/パスワードのお問い合わせ"), {"fields": ["recovery_locked_until"]}),
    ]
    inlines = [ContractLinkInline, ContractRequestInline, MemberEventInline]
    actions = ["approve", "reject"]
    change_form_template = "admin/accounts/member/change_form.html"

    def get_urls(self) -> list:
        approve = self.admin_site.admin_view(self.approve_view)
        reject = self.admin_site.admin_view(self.reject_view)
        return [
            path("<path:object_id>/approve/", approve, name="accounts_member_approve"),
            path("<path:object_id>/reject/", reject, name="accounts_member_reject"),
            *super().get_urls(),
        ]

    def _member_to_review(self, request: HttpRequest, object_id: str) -> Member:
        member = self.get_object(request, object_id)  # None outside the staff's utility
        if member is None:
            raise Http404
        if not self.has_change_permission(request, member):
            raise PermissionDenied
        return member

    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """「承認」 on the member's own page (POST), beside the match evidence."""
        member = self._member_to_review(request, object_id)
        if request.method == "POST":
            self._approve_each(request, [member])
        return redirect("admin:accounts_member_change", member.pk)

    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """「差し戻し」 on the member's own page: the reason, then the rejection mail."""
        member = self._member_to_review(request, object_id)
        form = RejectForm(request.POST or None)
        if member.status == Member.Status.PENDING and form.is_valid():
            self._reject_one(request, member, form.cleaned_data["reason"])
            return redirect("admin:accounts_member_change", member.pk)
        pending = [member] if member.status == Member.Status.PENDING else []
        return self._reason_page(request, pending, form, single=True)

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)  # a new class per request
        if not request.user.is_superuser:
            form.forced_utility_id = request.user.utility_id
        return form

    def get_fieldsets(self, request: HttpRequest, obj=None):
        """A member's page shows the questions of the member's own utility: Kanazawa's had
        Nayoro's 申込者と契約者の関係, 支払方法 and お客様氏名カナ, always empty. A value that
        is stored anyway stays in sight, and a row left out is left as it is on save."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.utility is None:
            return fieldsets
        unasked = {
            name
            for name, asked in _asked_member_fields(obj.utility).items()
            if not asked and not getattr(obj, name)
        }
        return [
            (title, {**options, "fields": [f for f in options["fields"] if f not in unasked]})
            for title, options in fieldsets
        ]

    def get_ordering(self, request: HttpRequest) -> list:
        # Pending members first: they are what staff come here to deal with.
        return [_pending_first(Member.Status.PENDING), "-date_joined"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "is_staff", "groups"]
        if obj is not None and obj.status == Member.Status.PENDING:
            # A pending member changes status only through 承認 / 否認 (contract, mail).
            fields += ["status"]
        return fields

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        number = form.cleaned_data.get("contract_number")
        if change and number:
            review.choose_contract(obj, number, request.user)
        changed = [name for name in form.changed_data if name != "contract_number"]
        if change and changed:
            review.record_staff_edit(obj, request.user, changed)

    @admin.display(description=_("契約との照合"))
    def match_summary(self, member: Member) -> str:
        return _match_line(_evidence(member.signup_match, member.utility))

    @admin.display(description=_("登録日"), ordering="date_joined")
    def joined(self, member: Member) -> str:
        local = timezone.localtime(member.date_joined)
        return f"{local.year}年{local.month}月{local.day}日"

    @admin.display(description=_("契約との照合(入力値と契約の値)"))
    def match_table(self, member: Member) -> str:
        match = _evidence(member.signup_match, member.utility)
        if not match:
            return "—"
        customer = Customer.objects.filter(
            pk=match.get("customer_id"), utility_id=member.utility_id
        ).first()
        table = _evidence_table(match, lambda field: getattr(member, field), customer)
        if member.status != Member.Status.PENDING:
            return table
        reason_page = reverse("admin:accounts_member_reject", args=[member.pk])
        send_back = format_html(
            '<a class="button" href="{}">{}</a>', reason_page, gettext("差し戻し")
        )
        return _review_buttons(table, "member-approve-form", send_back)

    @admin.action(description=_("承認"), permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """「承認」 on the list: first a page listing the pending members with their evidence,
        then only the members ticked there (the page ticks none whose evidence shows ×)."""
        if "apply" not in request.POST:
            return self._approval_page(request, queryset)
        pending = queryset.filter(status=Member.Status.PENDING)
        ticked = set(request.POST.getlist(APPROVE_FIELD))
        chosen = [member for member in queryset if str(member.pk) in ticked]
        self._approve_each(request, chosen)
        left = pending.exclude(pk__in=[member.pk for member in chosen]).count()
        if left:
            self.message_user(
                request,
                gettext("チェックを入れなかった%(count)d件は承認していません。") % {"count": left},
                messages.INFO,
            )
        return None

    def _approval_page(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse:
        pending = queryset.filter(status=Member.Status.PENDING).select_related("utility")
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("承認の確認"),
            "opts": self.model._meta,
            "rows": [ApprovalRow.of(member) for member in pending],
            "not_pending": queryset.exclude(status=Member.Status.PENDING).count(),
            "approve_field": APPROVE_FIELD,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/accounts/member/approve.html", context)

    def _approve_each(self, request: HttpRequest, members) -> None:
        portal_url = f"{request.scheme}://{request.get_host()}"
        for member in members:
            try:
                review.approve_member(member, request.user, portal_url)
            except review.ContractRequired:
                self.message_user(
                    request,
                    gettext(
                        "%(member)s: 契約が見つからないため承認できません。詳細画面で「照合する契約の"
                        "%(word)s」を入力して保存してから承認してください。"
                    )
                    % {"member": member, "word": member.utility_word},
                    messages.ERROR,
                )
            except review.AlreadyReviewed:
                self.message_user(
                    request,
                    gettext("%(member)s: 確認中ではないため承認しませんでした。")
                    % {"member": member},
                    messages.WARNING,
                )
            except review.NotAllowed:
                self.message_user(
                    request,
                    gettext("%(member)s: 担当外の会員です。") % {"member": member},
                    messages.ERROR,
                )
            else:
                self._report(request, member, gettext("承認しました"))

    @admin.action(description=_("否認"), permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        pending = queryset.filter(status=Member.Status.PENDING)
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for member in pending:
                self._reject_one(request, member, form.cleaned_data["reason"])
            return None
        return self._reason_page(request, list(pending), form, single=False)

    def _reject_one(self, request: HttpRequest, member: Member, reason: str) -> None:
        try:
            review.reject_member(member, request.user, reason)
        except review.ReviewError:
            self.message_user(
                request,
                gettext("%(member)s: 否認できませんでした。") % {"member": member},
                messages.ERROR,
            )
        else:
            self._report(request, member, gettext("否認しました"))

    def _reason_page(
        self, request: HttpRequest, members: list[Member], form: RejectForm, single: bool
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("否認の理由"),
            "opts": self.model._meta,
            "members": members,
            "form": form,
            "single": single,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/accounts/member/reject.html", context)

    def _report(self, request: HttpRequest, member: Member, done: str) -> None:
        # The mail is in the outbox; one that finally fails shows in the member's history.
        self.message_user(request, f"{member}: {done}。", messages.SUCCESS)


@admin.register(ContractRequest)
class ContractRequestAdmin(UtilityScopedAdmin):
    """Contracts members asked to add from 会員情報: pending first, 承認 and 否認."""

    utility_path = "member__utility"
    # Like the member list, the columns staff sort by: who, which number, the evidence, the
    # state and the day. Who reviewed it and when are on the request's own page: with them,
    # the list scrolled sideways at 1280 px (issue 15 review, finding 4).
    list_display = ["member", "customer_number", "match_summary", "status", "requested_on"]
    list_filter = ["status"]
    search_fields = ["member__login_id", "member__email", "customer_number", "name"]
    list_select_related = ["member__utility"]
    autocomplete_fields = ["customer"]
    customer_number_labels = {"customer_number": _("入力された%(word)s")}
    fields = [
        "member",
        "status",
        "match_table",
        "customer",
        "customer_number",
        "name",
        "name_kana",
        "phone",
        "address",
        "requested",
        "reviewed_by",
        "reviewed",
    ]
    readonly_fields = [f for f in fields if f != "customer"]
    actions = ["approve", "reject"]
    change_form_template = "admin/accounts/contractrequest/change_form.html"

    def get_urls(self) -> list:
        approve = self.admin_site.admin_view(self.approve_view)
        reject = self.admin_site.admin_view(self.reject_view)
        return [
            path("<path:object_id>/approve/", approve, name="accounts_contractrequest_approve"),
            path("<path:object_id>/reject/", reject, name="accounts_contractrequest_reject"),
            *super().get_urls(),
        ]

    def _request_to_review(self, request: HttpRequest, object_id: str) -> ContractRequest:
        contract_request = self.get_object(request, object_id)  # None outside the utility
        if contract_request is None:
            raise Http404
        if not self.has_change_permission(request, contract_request):
            raise PermissionDenied
        return contract_request

    @method_decorator(require_POST)
    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """「承認」 on the request's own page, beside the match evidence."""
        contract_request = self._request_to_review(request, object_id)
        self.approve(request, ContractRequest.objects.filter(pk=contract_request.pk))
        return redirect("admin:accounts_contractrequest_change", contract_request.pk)

    @method_decorator(require_POST)
    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """「差し戻し」 on the request's own page: refused, and the member told by mail."""
        contract_request = self._request_to_review(request, object_id)
        self.reject(request, ContractRequest.objects.filter(pk=contract_request.pk))
        return redirect("admin:accounts_contractrequest_change", contract_request.pk)

    @admin.display(description=_("申請日"), ordering="created_at")
    def requested_on(self, contract_request: ContractRequest) -> str:
        local = timezone.localtime(contract_request.created_at)
        return f"{local.year}年{local.month}月{local.day}日"

    @admin.display(description=_("申請日時"), ordering="created_at")
    def requested(self, contract_request: ContractRequest) -> str:
        return japanese_time(contract_request.created_at)

    @admin.display(description=_("確認日時"), ordering="reviewed_at")
    def reviewed(self, contract_request: ContractRequest) -> str:
        return japanese_time(contract_request.reviewed_at) if contract_request.reviewed_at else "—"

    @admin.display(description=_("契約との照合(入力値と契約の値)"))
    def match_table(self, contract_request: ContractRequest) -> str:
        match = _evidence(contract_request.match, contract_request.member.utility)
        if not match:
            return "—"
        typed = {"signup_customer_number": contract_request.customer_number}
        customer = Customer.objects.filter(
            pk=match.get("customer_id"), utility_id=contract_request.member.utility_id
        ).first()
        table = _evidence_table(
            match, lambda field: typed.get(field, getattr(contract_request, field, "")), customer
        )
        if contract_request.status != ContractRequest.Status.PENDING:
            return table
        send_back = format_html(
            '<button type="submit" form="contract-request-reject-form" class="button">{}</button>',
            gettext("差し戻し"),
        )
        return _review_buttons(table, "contract-request-approve-form", send_back)

    def get_ordering(self, request: HttpRequest) -> list:
        return [_pending_first(ContractRequest.Status.PENDING), "-created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("契約との照合"))
    def match_summary(self, contract_request: ContractRequest) -> str:
        return _match_line(_evidence(contract_request.match, contract_request.member.utility))

    @admin.action(description=_("承認"), permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        for contract_request in queryset:
            try:
                review.approve_contract_request(contract_request, request.user)
            except review.ContractRequired:
                self._say(
                    request,
                    contract_request,
                    gettext(
                        "契約が見つからないため承認できません。詳細画面で「照合した契約」を"
                        "選んで保存してから承認してください。"
                    ),
                    messages.ERROR,
                )
            except review.AlreadyReviewed:
                self._say(
                    request,
                    contract_request,
                    gettext("確認中ではないため承認しませんでした。"),
                    messages.WARNING,
                )
            except review.NotAllowed:
                self._say(request, contract_request, gettext("担当外の会員です。"), messages.ERROR)
            else:
                self._say(request, contract_request, gettext("承認しました。"), messages.SUCCESS)

    @admin.action(description=_("否認"), permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet) -> None:
        for contract_request in queryset:
            try:
                review.reject_contract_request(contract_request, request.user)
            except review.ReviewError:
                self._say(
                    request, contract_request, gettext("否認できませんでした。"), messages.ERROR
                )
            else:
                self._say(request, contract_request, gettext("否認しました。"), messages.SUCCESS)

    def _say(self, request: HttpRequest, contract_request, text: str, level: int) -> None:
        self.message_user(request, f"{contract_request}: {text}", level)


def _lock_scope() -> Left:
    """The login a row's failure happened at, as its key's prefix: ``kanazawa:``, ``staff:``."""
    return Left("username", StrIndex("username", Value(":")))


def _with_lock_totals(attempts: QuerySet) -> QuerySet:
    """Add each row's identifier's and address's failures within the cool-off, as axes sums
    them: an identifier's everywhere, an address's at the same login (accounts.lockout)."""
    recent = AccessAttempt.objects.filter(
        attempt_time__gte=timezone.now() - get_cool_off()
    ).annotate(lock_scope=_lock_scope())

    def total(*keys: str) -> Coalesce:
        rows = recent.filter(**{key: OuterRef(key) for key in keys}).order_by().values(keys[0])
        return Coalesce(
            Subquery(rows.annotate(total=Sum("failures_since_start")).values("total")), 0
        )

    return attempts.annotate(lock_scope=_lock_scope()).annotate(
        identifier_failures=total("username"),
        address_failures=total("ip_address", "lock_scope"),
    )


@admin.register(LoginLock)
class LoginLockAdmin(PortalAdmin):
    """Failed logins and lockouts (django-axes), for staff to see and lift.

    Keys are ``<utility slug>:<identifier>`` (``staff:<login ID>`` for the admin). Staff see
    their own utility's residents' rows and the admin-login rows of their own utility's staff
    accounts, which covers every lock that keeps one of them out: an address is locked only
    at the login where it failed. 「停止を解除する」 deletes the rows, which lifts the lockout
    of that identifier and address at once.
    """

    list_display = ["last_failure", "identifier", "address", "failures", "state"]
    search_fields = ["username", "ip_address"]
    fields = ["identifier", "address", "browser", "failures", "last_failure"]
    readonly_fields = fields
    ordering = ["-attempt_time"]
    actions = ["unlock"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = _with_lock_totals(super().get_queryset(request))
        user = request.user
        if user.is_superuser:
            return queryset
        if not getattr(user, "utility_id", None):
            return queryset.none()
        residents = Q(username__startswith=f"{user.utility.slug}:")
        return queryset.filter(residents | Q(username__in=staff_lockout_keys(user.utility)))

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("ログインID・メールアドレス"), ordering="username")
    def identifier(self, attempt: LoginLock) -> str:
        scope, _colon, identifier = (attempt.username or "").partition(":")
        if scope == STAFF_SCOPE:  # an admin login
            return gettext("%(login_id)s(職員)") % {"login_id": identifier}
        return identifier

    @admin.display(description=_("最後の失敗"), ordering="attempt_time")
    def last_failure(self, attempt: LoginLock) -> str:
        return japanese_time(attempt.attempt_time)

    @admin.display(description=_("接続元"), ordering="ip_address")
    def address(self, attempt: LoginLock) -> str:
        return attempt.ip_address or "—"

    @admin.display(description=_("ブラウザ"))
    def browser(self, attempt: LoginLock) -> str:
        return attempt.user_agent

    @admin.display(description=_("失敗回数"), ordering="failures_since_start")
    def failures(self, attempt: LoginLock) -> int:
        return attempt.failures_since_start

    @admin.display(description=_("状態"))
    def state(self, attempt: LoginLock) -> str:
        # A row is one (identifier, address) pair, but axes locks an identifier or an address
        # on its total over every row: one failure from each of five addresses is 停止中.
        failures = max(attempt.identifier_failures, attempt.address_failures)
        left = settings.AXES_FAILURE_LIMIT - failures
        if left <= 0:
            return gettext("停止中")
        return gettext("あと%(left)d回で停止") % {"left": left}

    @admin.action(description=_("停止を解除する"), permissions=["delete"])
    def unlock(self, request: HttpRequest, queryset: QuerySet) -> None:
        count, _deleted = queryset.delete()
        self.message_user(request, gettext("%(count)d件の停止を解除しました。") % {"count": count})


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(PortalAdmin, DjangoGroupAdmin):
    """Django's own group admin, with what every admin of the portal does."""

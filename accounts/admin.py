from __future__ import annotations

from django.contrib import admin
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest

from portal.admin import UtilityScopedAdmin

from .models import ContractLink, Member, MemberEvent


class ContractLinkInline(admin.TabularInline):
    model = ContractLink
    fk_name = "member"
    extra = 0
    raw_id_fields = ["customer"]
    readonly_fields = ["approved_by", "approved_at"]


class MemberEventInline(admin.TabularInline):
    model = MemberEvent
    fk_name = "member"
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "actor", "action", "detail"]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Member)
class MemberAdmin(UtilityScopedAdmin):
    list_display = ["__str__", "name", "email", "status", "utility", "date_joined"]
    list_filter = ["status", "utility", "is_staff"]
    search_fields = ["login_id", "email", "name", "name_kana", "phone", "signup_customer_number"]
    list_select_related = ["utility"]
    exclude = ["password", "secret_answer_hash", "user_permissions"]
    readonly_fields = [
        "last_login",
        "date_joined",
        "signup_customer_number",
        "signup_match",
        "reviewed_by",
        "reviewed_at",
        "withdrawn_at",
    ]
    inlines = [ContractLinkInline, MemberEventInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Pending members first: they are what staff come here to deal with.
        pending_first = Case(
            When(status=Member.Status.PENDING, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return super().get_queryset(request).order_by(pending_first, "-date_joined")

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "is_staff", "groups"]
        return fields

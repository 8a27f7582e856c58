from __future__ import annotations

from django.contrib import admin

from portal.admin import UtilityScopedAdmin

from .models import Customer, MeterReading


@admin.register(Customer)
class CustomerAdmin(UtilityScopedAdmin):
    list_display = ["number", "name", "name_kana", "phone", "meter_diameter_mm", "utility"]
    list_filter = ["utility", "meter_diameter_mm"]
    search_fields = ["number", "name", "name_kana", "phone", "address"]
    list_select_related = ["utility"]
    show_full_result_count = False


@admin.register(MeterReading)
class MeterReadingAdmin(UtilityScopedAdmin):
    utility_path = "customer__utility"
    list_display = ["customer", "period_start", "period_end", "usage_m3", "total"]
    list_filter = ["customer__utility"]
    search_fields = ["customer__number"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]
    date_hierarchy = "period_end"
    show_full_result_count = False

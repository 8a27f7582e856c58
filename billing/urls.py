from __future__ import annotations

import datetime

from django.urls import path, register_converter

from . import document_views, views


class ContractNumberConverter:
    """Half-width digits only, leading zeros kept: anything else never reaches a view."""

    regex = "[0-9]{1,20}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return str(value)


class PeriodEndConverter:
    """An ISO date (2025-05-25): the end of a billing period, unique within one contract."""

    regex = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"

    def to_python(self, value: str) -> datetime.date:
        return datetime.date.fromisoformat(value)  # ValueError (2025-02-30) → no match → 404

    def to_url(self, value: datetime.date | str) -> str:
        return value.isoformat() if isinstance(value, datetime.date) else str(value)


register_converter(ContractNumberConverter, "contract_number")
register_converter(PeriodEndConverter, "period_end")

app_name = "billing"

urlpatterns = [
    path("usage/", views.dashboard, name="dashboard"),
    path("usage/<contract_number:number>/", views.dashboard, name="contract"),
    path("usage/<contract_number:number>/history/", views.history, name="history"),
    path("usage/<contract_number:number>/history.csv", views.history_csv, name="history_csv"),
    path("usage/<contract_number:number>/payments/", views.payments, name="payments"),
    path("usage/<contract_number:number>/<period_end:period_end>/", views.period, name="period"),
    path(
        "usage/<contract_number:number>/<period_end:period_end>/slip.pdf",
        document_views.slip_pdf,
        name="slip_pdf",
    ),
    path(
        "usage/<contract_number:number>/<period_end:period_end>/invoice.pdf",
        document_views.invoice_pdf,
        name="invoice_pdf",
    ),
    path(
        "usage/<contract_number:number>/<period_end:period_end>/receipt.pdf",
        document_views.receipt_pdf,
        name="receipt_pdf",
    ),
    path("usage/<contract_number:number>/web-slip/", views.web_slip_choice, name="web_slip_choice"),
    path("notices/", views.notice_list, name="notice_list"),
    path("account/watch/", views.watch_settings, name="watch"),
    path("watch/consent/<str:token>/", views.watch_consent, name="watch_consent"),
    path("watch/stop/<str:token>/", views.watch_stop, name="watch_stop"),
    path("notices/<int:pk>/", views.notice, name="notice"),
]

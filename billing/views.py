"""Usage and charge pages for a logged-in member's own contracts."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import MeterReading


def dashboard(request: HttpRequest) -> HttpResponse:
    contracts = list(request.user.contracts.filter(utility=request.utility).order_by("number"))
    contract = contracts[0] if contracts else None
    latest = (
        MeterReading.objects.filter(customer=contract).latest_first().first() if contract else None
    )
    return render(request, "billing/dashboard.html", {"contract": contract, "latest": latest})

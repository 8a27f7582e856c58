"""Portal-wide pages: the list of utilities, each utility's information pages, the guide."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from .models import Utility
from .qr import login_qr_context


@login_not_required
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/index.html", {"utilities": Utility.objects.all()})


@login_not_required
def terms(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/terms.html")


@login_not_required
def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/privacy.html")


@login_not_required
def faq(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/faq.html", {"entries": faq_entries(request.utility.faq)})


@login_not_required
def offices(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/offices.html")


@login_not_required
def inquiry(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/inquiry.html")


@login_not_required
def guide(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/guide.html", login_qr_context(request))


def faq_entries(text: str) -> list[tuple[str, str]]:
    """Split FAQ text into (question, answer) pairs; a question line starts with 「Q.」."""
    entries: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("Q."):
            entries.append((line[2:].strip(), []))
        elif entries and line.strip():
            entries[-1][1].append(line.removeprefix("A.").strip())
    return [(q, "\n".join(a)) for q, a in entries]


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Answer 200 when the database answers; load balancers poll this."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")

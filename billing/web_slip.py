"""Web明細: a member stops (or restarts) the paper 検針票 of one contract; staff export the list.

One row per contract (``WebSlip``), whichever of its members chose last, with the day of the
choice: the CIS reads the export and stops or resumes printing that contract's slip.
"""

from __future__ import annotations

import csv
import io

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from . import pagecache
from .models import Customer, WebSlip

CSV_COLUMNS = ("utility", "customer_number", "name", "chosen_on", "paper_slip")


class CannotEncode(Exception):
    """Some contract's name has a character the CIS's encoding cannot hold."""

    def __init__(self, numbers: list[str]) -> None:
        super().__init__(numbers)
        self.numbers = numbers


def state_word(paper_stopped: bool) -> str:
    return _("停止") if paper_stopped else _("再開")


def choose(member, contract: Customer, *, paper_stopped: bool) -> WebSlip:
    """Record ``member``'s choice for ``contract`` today (a choice unchanged keeps its day)."""
    with transaction.atomic():
        slip = WebSlip.objects.select_for_update().filter(customer=contract).first()
        if slip is not None and slip.paper_stopped == paper_stopped:
            return slip
        slip = slip or WebSlip(customer=contract)
        slip.paper_stopped = paper_stopped
        slip.chosen_on = timezone.localdate()
        slip.chosen_by = member
        slip.save()
        # The contract's usage pages show the choice: drop the cached ones.
        pagecache.usage_data_changed()
    return slip


def export_csv(slips: QuerySet[WebSlip], encoding: str) -> bytes:
    """The list as the CIS reads it: ``CSV_COLUMNS``, one contract a line, in ``encoding``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    rows = slips.select_related("customer__utility").order_by(
        "customer__utility", "customer__number"
    )
    bad = []
    for slip in rows.iterator(chunk_size=2000):
        customer = slip.customer
        row = [
            customer.utility.slug,
            customer.number,
            customer.name,
            slip.chosen_on.isoformat(),
            "stopped" if slip.paper_stopped else "restarted",
        ]
        try:
            ",".join(row).encode(encoding)
        except UnicodeEncodeError:
            bad.append(customer.number)
        writer.writerow(row)
    if bad:
        raise CannotEncode(bad)
    return out.getvalue().encode(encoding)

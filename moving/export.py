"""The CIS hand-off: applications received since a day, one a line, in the CIS's encoding.

Header (README "Moving"): ``CSV_COLUMNS``. Dates are ISO; ``applied_at`` is Japan time.
"""

from __future__ import annotations

import csv
import datetime
import io

from django.db.models import QuerySet
from django.utils import timezone

from .models import MoveApplication

CSV_COLUMNS = [
    "utility",
    "reference",
    "kind",
    "status",
    "applied_at",
    "move_date",
    "customer_number",
    "matched",
    "name",
    "name_kana",
    "phone",
    "email",
    "address",
    "building",
    "final_bill_address",
    "payment",
    "wants_membership",
    "new_holder_name",
    "new_holder_kana",
    "new_holder_phone",
    "new_holder_email",
    "relationship",
]


def skipped_message(encoding: str, references: list[str]) -> str:
    return (
        f"{encoding}で書けない文字を含むため、次の申込みは書き出していません"
        f"(管理画面で直してから、その日を指定して書き出し直してください): {'、'.join(references)}"
    )


def since_day(text: str) -> datetime.date:
    """``YYYY-MM-DD`` (ValueError otherwise), or today in Japan when blank."""
    return datetime.date.fromisoformat(text) if text else timezone.localdate()


def _matched(application: MoveApplication) -> str:
    if not application.names_contract:
        return ""
    if application.member_id and not application.match:
        return "member"
    return "yes" if application.matched else "no"


def _holder(application: MoveApplication) -> tuple[str, str, str, str, str]:
    """name, name_kana, phone, address, building: for a 名義変更 of a contract the holder (or
    a member) named, the current holder's as the contract holds them — the CIS compares
    them — else as typed (an unmatched one, for staff to look at)."""
    contract = application.customer
    if (
        application.kind == MoveApplication.Kind.NAME_CHANGE
        and contract is not None
        and _matched(application) in ("yes", "member")
    ):
        return (
            contract.name,
            contract.name_kana,
            contract.phone or application.phone,
            contract.address,
            contract.building,
        )
    a = application
    return a.name, a.name_kana, a.phone, a.address, a.building


def _relationship(application: MoveApplication) -> str:
    """``inheritance`` …, or ``other:<the words typed>``."""
    if application.relationship == MoveApplication.Relationship.OTHER:
        return f"other:{application.relationship_note}"
    return application.relationship


# A spreadsheet reads a cell beginning with one of these as a formula (OWASP "CSV
# Injection"): such a value is written with a leading ' so it stays text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_START) else value


def rows(applications: QuerySet[MoveApplication], since: datetime.date | None):
    """Each application received from ``since`` on (every one given when None), in order."""
    if since is not None:
        start = timezone.make_aware(datetime.datetime.combine(since, datetime.time()))
        applications = applications.filter(created_at__gte=start)
    chosen = applications.select_related("utility", "customer").order_by("created_at", "pk")
    for a in chosen.iterator(chunk_size=1000):
        name, name_kana, phone, address, building = _holder(a)
        yield (
            a,
            [
                _cell(value)
                for value in (
                    a.utility.slug,
                    a.reference,
                    a.kind,
                    a.status,
                    timezone.localtime(a.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                    a.move_date.isoformat(),
                    a.customer_number,
                    _matched(a),
                    name,
                    name_kana,
                    phone,
                    a.email,
                    address,
                    building,
                    a.final_bill_address,
                    a.payment,
                    "yes" if a.wants_membership else "no",
                    a.new_name,
                    a.new_name_kana,
                    a.new_phone,
                    a.new_email,
                    _relationship(a),
                )
            ],
        )


def export_csv(
    applications: QuerySet[MoveApplication], since: datetime.date | None, encoding: str
) -> tuple[bytes, list[str]]:
    """The header and every application received from ``since`` on, CRLF, in ``encoding``,
    and the 受付番号 of those left out for a character the encoding cannot hold (refused at
    input since; staff correct them in the admin and export that day again)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    skipped = []
    for application, row in rows(applications, since):
        try:
            ",".join(row).encode(encoding)
        except UnicodeEncodeError:
            skipped.append(application.reference)
            continue
        writer.writerow(row)
    return out.getvalue().encode(encoding), skipped

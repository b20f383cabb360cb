"""Form 07, the dossier register (sổ theo dõi hồ sơ) of a one-stop desk: one line per dossier
received on a day, as a printable page and as CSV.

A dossier is entered on the day it reached the desk (`Case.submitted_at`, the date in its code):
a register printed in the evening must not lose a line because the completeness check was
finished the next morning. Only rows are read (no workflow is deserialized)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from engine.calendar import VN_TZ
from engine.db import transaction
from engine.models import Case, Procedure
from engine.motcua import Motcua

from .printing import receipt_number

CSV_COLUMNS = (
    "number",
    "code",
    "received_at",
    "applicant",
    "procedure_code",
    "procedure",
    "appointment_at",
    "status",
    "status_label",
    "returned_at",
)
# A cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class RegisterLine:
    number: str  # the register entry printed on Form 01: the daily sequence of the code
    code: str
    received_at: datetime
    applicant: str
    procedure_code: str
    procedure_name: str
    appointment_at: datetime | None
    status: str
    returned_at: datetime | None


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The local day as an interval of instants (Hà Nội has no daylight saving time)."""
    start = datetime.combine(day, time(0), tzinfo=VN_TZ)
    return start, start + timedelta(days=1)


def register_lines(m: Motcua, agency_ids: Iterable[int], day: date) -> list[RegisterLine]:
    """The dossiers the agencies' desks received on `day`, in the order they arrived."""
    ids = sorted(set(agency_ids))
    if not ids:
        return []
    start, end = day_bounds(day)
    with transaction(m.sessions) as session:
        rows = session.execute(
            select(Case, Procedure.code, Procedure.name)
            .outerjoin(Procedure, Procedure.id == Case.procedure_id)
            .where(
                Case.kind == "dossier",
                Case.receiving_agency_id.in_(ids),
                Case.submitted_at >= start,
                Case.submitted_at < end,
            )
            .order_by(Case.submitted_at, Case.id)
        ).all()
        return [
            RegisterLine(
                number=receipt_number(case.code),
                code=case.code,
                received_at=case.submitted_at,
                applicant=case.applicant_name,
                procedure_code=procedure_code or "",
                procedure_name=procedure_name or case.title,
                appointment_at=case.appointment_at,
                status=case.status,
                returned_at=case.returned_at,
            )
            for case, procedure_code, procedure_name in rows
        ]


def _local(value: datetime | None) -> str:
    return value.astimezone(VN_TZ).strftime("%Y-%m-%d %H:%M") if value else ""


def _cell(value: Any) -> str:
    """Text that a spreadsheet shows as text: a leading quote defuses formula characters (an
    applicant's name is typed by people and could be "=HYPERLINK(...)")."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(lines: list[RegisterLine], status_label: Any) -> bytes:
    """UTF-8 with a byte-order mark: without it Excel reads Vietnamese as Windows-1252."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        writer.writerow(
            _cell(v)
            for v in (
                line.number,
                line.code,
                _local(line.received_at),
                line.applicant,
                line.procedure_code,
                line.procedure_name,
                _local(line.appointment_at),
                line.status,
                status_label("dossier", line.status),
                _local(line.returned_at),
            )
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")

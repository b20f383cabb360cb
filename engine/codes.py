"""Dossier and feedback codes (mã hồ sơ): a configurable pattern per agency over a gap-free
daily sequence.

The default pattern follows Circular 03/2025 as locally issued: `<agency identifier>-YYMMDD-NNNN`.
The counter is bumped with an upsert inside the reception transaction, so concurrent receptions
queue on the counter row and a rolled-back reception gives its number back."""

from __future__ import annotations

import string
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from .models import Agency

DEFAULT_PATTERN = "{eid}-{yymmdd}-{seq:04d}"
FEEDBACK_PATTERN = "PAKN-{eid}-{yymmdd}-{seq:04d}"
_FIELDS = {"eid", "yymmdd", "yyyy", "mm", "dd", "seq"}


def validate_pattern(pattern: str) -> None:
    """Refuse patterns that name unknown fields or reach into attributes (format-string injection)."""
    fields = [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None]
    if "seq" not in fields:
        raise ValueError(f"code pattern {pattern!r} must contain {{seq}}")
    for name in fields:
        if name not in _FIELDS:
            raise ValueError(
                f"code pattern {pattern!r}: unknown field {{{name}}}; allowed: {sorted(_FIELDS)}"
            )


def next_code(session: Session, agency: Agency, day: date, series: str = "dossier") -> str:
    pattern = agency.dossier_code_pattern or DEFAULT_PATTERN
    if series == "feedback":
        pattern = FEEDBACK_PATTERN
    validate_pattern(pattern)
    seq = session.execute(
        text(
            "INSERT INTO dossier_sequences (series, agency_id, day, last_value) VALUES (:s, :a, :d, 1) "
            "ON CONFLICT (series, agency_id, day) "
            "DO UPDATE SET last_value = dossier_sequences.last_value + 1 "
            "RETURNING last_value"
        ),
        {"s": series, "a": agency.id, "d": day},
    ).scalar_one()
    return pattern.format(
        eid=agency.electronic_id,
        yymmdd=day.strftime("%y%m%d"),
        yyyy=day.strftime("%Y"),
        mm=day.strftime("%m"),
        dd=day.strftime("%d"),
        seq=seq,
    )

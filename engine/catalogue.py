"""Agencies and the procedure catalogue (danh mục thủ tục hành chính)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .calendar import TimeUnit
from .errors import InvalidAction, NotFound
from .models import Agency, Procedure

AGENCY_LEVELS = ("ministry", "province", "district", "commune")
ONLINE_LEVELS = ("full", "partial", "none")
# Fields that define a procedure version; a change in any of them publishes a new version.
_VERSIONED = (
    "name",
    "field",
    "resolving_level",
    "time_limit",
    "time_unit",
    "fees",
    "components",
    "online_level",
    "cutoff",
    "process_id",
    "extra_agencies",
    "valid_from",
    "valid_to",
)


def agency_by_code(session: Session, code: str) -> Agency:
    agency = session.scalars(select(Agency).where(Agency.code == code)).first()
    if agency is None:
        raise NotFound(f"agency {code!r} does not exist")
    return agency


def subtree_ids(session: Session, agency_id: int) -> frozenset[int]:
    """The agency and every agency below it, at any depth."""
    children: dict[int | None, list[int]] = {}
    for agency_id_, parent_id in session.execute(select(Agency.id, Agency.parent_id)):
        children.setdefault(parent_id, []).append(agency_id_)
    found, todo = set(), [agency_id]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        found.add(current)
        todo.extend(children.get(current, []))
    return frozenset(found)


def upsert_agency(
    session: Session,
    code: str,
    name: str,
    level: str,
    electronic_id: str,
    parent_code: str | None = None,
    desk_name: str | None = None,
    dossier_code_pattern: str | None = None,
) -> Agency:
    if level not in AGENCY_LEVELS:
        raise InvalidAction(f"agency level {level!r} must be one of {', '.join(AGENCY_LEVELS)}")
    parent = agency_by_code(session, parent_code) if parent_code else None
    agency = session.scalars(select(Agency).where(Agency.code == code)).first()
    if agency is None:
        agency = Agency(code=code)
        session.add(agency)
    agency.name, agency.level, agency.electronic_id = name, level, electronic_id
    agency.parent_id = parent.id if parent else None
    agency.desk_name, agency.dossier_code_pattern = desk_name, dossier_code_pattern
    session.flush()
    return agency


@dataclass(frozen=True)
class ProcedureSpec:
    code: str
    name: str
    field: str
    resolving_level: str
    time_limit: float
    time_unit: str
    process_id: str
    valid_from: date
    fees: tuple[dict[str, Any], ...] = ()
    components: tuple[dict[str, Any], ...] = ()
    online_level: str = "partial"
    cutoff: bool = False
    extra_agencies: dict[str, str] | None = None
    valid_to: date | None = None

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "field": self.field,
            "resolving_level": self.resolving_level,
            "time_limit": float(self.time_limit),
            "time_unit": str(TimeUnit(self.time_unit)),
            "fees": [dict(f) for f in self.fees],
            "components": [dict(c) for c in self.components],
            "online_level": self.online_level,
            "cutoff": self.cutoff,
            "process_id": self.process_id,
            "extra_agencies": dict(self.extra_agencies or {}),
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
        }


def publish_procedure(session: Session, spec: ProcedureSpec, at: datetime) -> Procedure:
    """Publish `spec`; identical to the latest version → that version, otherwise a new one.
    Published rows are never edited (a dossier keeps the version it was received under)."""
    if spec.online_level not in ONLINE_LEVELS:
        raise InvalidAction(f"online_level {spec.online_level!r} must be one of {', '.join(ONLINE_LEVELS)}")
    if spec.time_limit < 0:
        raise InvalidAction("time_limit must not be negative")
    values = spec.values()
    latest = session.scalars(
        select(Procedure).where(Procedure.code == spec.code).order_by(Procedure.version.desc())
    ).first()
    if latest is not None and all(getattr(latest, k) == values[k] for k in _VERSIONED):
        return latest
    procedure = Procedure(
        code=spec.code, version=(latest.version + 1) if latest else 1, published_at=at, **values
    )
    session.add(procedure)
    session.flush()
    return procedure


def procedure_in_force(session: Session, code: str, on: date) -> Procedure:
    procedure = session.scalars(
        select(Procedure)
        .where(Procedure.code == code, Procedure.valid_from <= on)
        .order_by(Procedure.version.desc())
    ).first()
    if procedure is None or (procedure.valid_to is not None and procedure.valid_to < on):
        raise NotFound(f"procedure {code!r} is not in force on {on.isoformat()}")
    return procedure


def procedures_in_force(session: Session, on: date) -> list[Procedure]:
    """`procedure_in_force` for every code at once: the newest version that has started, unless
    it has already ended. Ordered by code."""
    newest: dict[str, Procedure] = {}
    rows = session.scalars(
        select(Procedure).where(Procedure.valid_from <= on).order_by(Procedure.code, Procedure.version.desc())
    )
    for procedure in rows:
        newest.setdefault(procedure.code, procedure)
    return [p for p in newest.values() if p.valid_to is None or p.valid_to >= on]

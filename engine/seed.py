"""Loading the catalogue seed (agencies, procedures, staff, calendar notices) into a database.
Idempotent: running it twice changes nothing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from .calendar import DEFAULT_OVERRIDES_PATH, load_overrides
from .catalogue import ProcedureSpec, agency_by_code, publish_procedure, upsert_agency
from .db import transaction
from .models import CalendarOverrideRow, Staff
from .motcua import Motcua

DEMO_SEED = Path(__file__).resolve().parent / "data" / "demo_seed.json"


def load_seed(motcua: Motcua, path: Path = DEMO_SEED) -> dict[str, Any]:
    seed = json.loads(path.read_text(encoding="utf-8"))
    now = motcua.clock.now()
    with transaction(motcua.sessions) as session:
        for item in seed["agencies"]:
            upsert_agency(
                session,
                item["code"],
                item["name"],
                item["level"],
                item["electronic_id"],
                parent_code=item.get("parent"),
                desk_name=item.get("desk_name"),
                dossier_code_pattern=item.get("dossier_code_pattern"),
            )
        for item in seed["procedures"]:
            publish_procedure(session, procedure_spec(item), now)
        for item in seed["staff"]:
            agency_id = agency_by_code(session, item["agency"]).id
            staff = session.scalars(select(Staff).where(Staff.username == item["username"])).first()
            if staff is None:
                staff = Staff(username=item["username"])
                session.add(staff)
            staff.full_name, staff.agency_id, staff.roles, staff.active = (
                item["full_name"],
                agency_id,
                list(item["roles"]),
                True,
            )
        for override in load_overrides(DEFAULT_OVERRIDES_PATH):
            if session.get(CalendarOverrideRow, override.day) is None:
                session.add(
                    CalendarOverrideRow(day=override.day, working=override.working, note=override.note)
                )
    motcua._calendar = None
    return seed


def procedure_spec(item: dict[str, Any]) -> ProcedureSpec:
    return ProcedureSpec(
        code=item["code"],
        name=item["name"],
        field=item["field"],
        resolving_level=item["resolving_level"],
        time_limit=float(item["time_limit"]),
        time_unit=item["time_unit"],
        process_id=item["process_id"],
        valid_from=date.fromisoformat(item["valid_from"]),
        valid_to=date.fromisoformat(item["valid_to"]) if item.get("valid_to") else None,
        fees=tuple(item.get("fees", ())),
        components=tuple(item.get("components", ())),
        online_level=item.get("online_level", "partial"),
        cutoff=bool(item.get("cutoff", False)),
        extra_agencies=item.get("extra_agencies"),
    )

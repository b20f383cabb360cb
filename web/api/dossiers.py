"""Dossiers (hồ sơ): filing by an integrator, reading, history, supplements and withdrawals."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select

from engine.catalogue import agency_by_code, procedure_in_force
from engine.db import transaction
from engine.errors import FormInvalid, NotFound
from engine.history import verify_history
from engine.models import Case, CaseAccess, CaseEvent
from engine.personal_data import mask

from ..services import motcua
from .common import (
    INTAKE_ROLES,
    ApiBlueprint,
    agencies_by_id,
    agency_ref,
    api_actor,
    check_intake,
    local_today,
    national_status_code,
    open_task_views,
    path_parameter,
    readable_case,
    require_role,
    status_label,
    step_view,
    token_agency,
    token_required,
)
from .schemas import (
    DossierCreatedSchema,
    DossierCreateSchema,
    DossierSchema,
    HistorySchema,
    StepResultSchema,
    SupplementSchema,
    WithdrawalSchema,
)

blp = ApiBlueprint(
    "dossiers",
    __name__,
    description="Dossiers (hồ sơ): filed by integrators for the token's agency, read within its reach.",
)
CODE = path_parameter("code", "Dossier code, e.g. `000.01.01.H99-260302-0001`.")


@blp.post("/dossiers")
@token_required
@blp.arguments(DossierCreateSchema)
@blp.response(201, DossierCreatedSchema, description="The dossier was received; the PIN is shown this once.")
@blp.alt_response(403, response="Forbidden")
@blp.alt_response(409, response="Conflict")
def file_dossier(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """File a dossier

    Received by the token's agency (role `officer`) under the procedure version in force today;
    its process starts at once. The answer carries the dossier code, its status, the lookup PIN
    (shown only here) and the tasks now open. The ID number, if given, is stored encrypted and
    never returned."""
    actor = api_actor()
    require_role(actor, INTAKE_ROLES, "file dossiers")
    m = motcua()
    with transaction(m.sessions) as session:
        receiving = token_agency(session, actor).code
        problems: dict[str, list[str]] = {}
        try:
            procedure_in_force(session, body["procedure_code"], local_today())
        except NotFound as err:
            problems["procedure_code"] = [str(err)]
        if body.get("resolving_agency"):
            try:
                agency_by_code(session, body["resolving_agency"])
            except NotFound as err:
                problems["resolving_agency"] = [str(err)]
    if problems:
        raise FormInvalid(problems)
    applicant = {k: v for k, v in body["applicant"].items() if v}
    result = m.receive_dossier(
        body["procedure_code"],
        receiving,
        applicant=applicant,
        actor=actor,
        channel=body["channel"],
        components=body["components"],
        resolving_agency=body.get("resolving_agency"),
        id_number=body.get("id_number"),
        issue_pin=True,
    )
    view = step_view(result, "dossier")
    view["pin"] = result.pin
    return view, 201, {"Location": f"/api/v1/dossiers/{result.case_code}"}


@blp.get("/dossiers/<code>", parameters=CODE)
@token_required
@blp.response(200, DossierSchema, description="The dossier; `ETag` carries its version.")
@blp.alt_response(404, response="NotFound")
def get_dossier(code: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Read a dossier

    Status (with the national portal's status code), dates and appointment, procedure version,
    agencies and open tasks. The applicant's ID number is masked."""
    actor = api_actor()
    with transaction(motcua().sessions) as session:
        case = readable_case(session, code, "dossier", actor)
        access = session.get(CaseAccess, case.id)
        agencies = agencies_by_id(session, (case.receiving_agency_id, case.resolving_agency_id))
        procedure = case.procedure
        view = {
            "code": case.code,
            "status": case.status,
            "status_label": status_label("dossier", case.status),
            "national_status_code": national_status_code("dossier", case.status),
            "channel": case.channel,
            "completed": case.completed,
            "version": case.version,
            "procedure": {
                "code": procedure.code,
                "version": procedure.version,
                "name": procedure.name,
                "time_limit": procedure.time_limit,
                "time_unit": procedure.time_unit,
            }
            if procedure
            else None,
            "agencies": {
                "receiving": agency_ref(agencies.get(case.receiving_agency_id)),
                "resolving": agency_ref(agencies.get(case.resolving_agency_id)),
            },
            "applicant": {
                "name": case.applicant_name,
                "id_number": mask(None, access.id_number_last4)
                if access and access.id_number_last4
                else None,
            },
            "components": case.facts.get("components", []),
            "fees": case.facts.get("fees", []),
            "submitted_at": case.submitted_at,
            "received_at": case.received_at,
            "appointment_at": case.appointment_at,
            "original_appointment_at": case.original_appointment_at,
            "extension_count": case.extension_count,
            "finished_at": case.finished_at,
            "returned_at": case.returned_at,
            "updated_at": case.updated_at,
            "open_tasks": open_task_views(session, case.id),
        }
    return view, 200, {"ETag": f'"{case.version}"'}


@blp.get("/dossiers/<code>/history", parameters=CODE)
@token_required
@blp.response(200, HistorySchema, description="Every event of the dossier and the chain's verification.")
@blp.alt_response(404, response="NotFound")
def get_history(code: str) -> dict[str, Any]:
    """Read a dossier's history

    Every event, oldest first (who, what, when, data before and after), and `verified`: whether
    the hash chain linking the events is intact (no event altered, removed or inserted)."""
    actor = api_actor()
    with transaction(motcua().sessions) as session:
        case = readable_case(session, code, "dossier", actor)
        events = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
        )
        view = {
            "code": case.code,
            "events": [
                {
                    "seq": e.seq,
                    "type": e.type,
                    "actor": e.actor,
                    "at": e.at,
                    "task_id": e.task_id,
                    "element": e.element_id,
                    "data": e.data,
                }
                for e in events
            ],
            "verified": asdict(verify_history(session, case.id)),
        }
    return view


@blp.post("/dossiers/<code>/supplements", parameters=CODE)
@token_required
@blp.arguments(SupplementSchema)
@blp.response(200, StepResultSchema, description="The supplement was taken in.")
@blp.alt_response(403, response="Forbidden")
@blp.alt_response(404, response="NotFound")
@blp.alt_response(409, response="Conflict")
def add_supplement(body: dict[str, Any], code: str) -> dict[str, Any]:
    """Deliver a supplement

    The applicant's answer to a supplement request (role `officer` of the receiving agency). The
    legal clock resumes at once. A dossier that is not waiting for a supplement answers 409."""
    return _deliver(
        code, "supplement_received", {"items": body["items"], "note": body["note"]}, "supplements"
    )


@blp.post("/dossiers/<code>/withdrawal", parameters=CODE)
@token_required
@blp.arguments(WithdrawalSchema)
@blp.response(200, StepResultSchema, description="The dossier was withdrawn.")
@blp.alt_response(403, response="Forbidden")
@blp.alt_response(404, response="NotFound")
@blp.alt_response(409, response="Conflict")
def withdraw(body: dict[str, Any], code: str) -> dict[str, Any]:
    """Withdraw a dossier

    The applicant stops the dossier (role `officer` of the receiving agency). Possible until a
    result exists; afterwards the answer is 409."""
    return _deliver(code, "withdrawal_requested", {"reason": body["reason"]}, "withdrawals")


def _deliver(code: str, message: str, payload: dict[str, Any], what: str) -> dict[str, Any]:
    actor = api_actor()
    m = motcua()
    with transaction(m.sessions) as session:
        case: Case = readable_case(session, code, "dossier", actor)
        check_intake(case, actor, f"take in {what}")
    return step_view(m.deliver_message(code, message, payload, actor=actor), "dossier")

"""The procedure catalogue (danh mục thủ tục hành chính): public, no token needed."""

from __future__ import annotations

import unicodedata
from typing import Any

from engine.catalogue import procedure_in_force, procedures_in_force
from engine.db import transaction
from engine.models import Procedure

from ..services import motcua
from .common import ApiBlueprint, local_today, path_parameter
from .schemas import ProcedureQuerySchema, ProcedureSchema, ProcedureSummarySchema

blp = ApiBlueprint(
    "procedures",
    __name__,
    description="Administrative procedures (thủ tục hành chính) in force: public, no token needed.",
)


@blp.get("/procedures")
@blp.arguments(ProcedureQuerySchema, location="query")
@blp.response(200, ProcedureSummarySchema(many=True), description="Procedures in force today, by code.")
def list_procedures(query: dict[str, Any]) -> list[Procedure]:
    """List the procedures in force

    Each procedure appears once, in the version in force today. `q` matches the name or the code,
    ignoring case and Vietnamese diacritics (`khai sinh` finds `Thủ tục đăng ký khai sinh`)."""
    text = _folded(query.get("q", ""))
    field = _folded(query.get("field", ""))
    with transaction(motcua().sessions) as session:
        procedures = procedures_in_force(session, local_today())
    return [
        p
        for p in procedures
        if (not text or text in _folded(p.name) or text in p.code.casefold())
        and (not field or _folded(p.field) == field)
    ]


@blp.get("/procedures/<code>", parameters=path_parameter("code", "Procedure code, e.g. `2.000720`."))
@blp.response(200, ProcedureSchema, description="The procedure version in force today.")
@blp.alt_response(404, response="NotFound")
def get_procedure(code: str) -> Procedure:
    """Read a procedure

    The version in force today: components, fees, time limit and unit, online level, cut-off rule
    and validity."""
    with transaction(motcua().sessions) as session:
        return procedure_in_force(session, code, local_today())


def _folded(text: str) -> str:
    """Lower case without diacritics, so a search need not type Vietnamese marks."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()

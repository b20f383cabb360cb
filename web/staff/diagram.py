"""The process diagram of the staff case page: the BPMN XML of the version a case runs on, and
which of its elements are current and which completed, as the engine reads them from the case's
workflow (`Motcua.element_states`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.caseview import CaseFile
from engine.db import transaction
from engine.errors import NotFound
from engine.models import ProcessDefinition
from engine.motcua import Motcua


def definition_xml(m: Motcua, definition_id: int) -> str:
    """The BPMN XML of one deployed process version (versions are immutable)."""
    with transaction(m.sessions) as session:
        xml = session.scalar(select(ProcessDefinition.bpmn_xml).where(ProcessDefinition.id == definition_id))
    if xml is None:
        raise NotFound(f"process definition {definition_id} does not exist")
    return xml


def diagram_state(m: Motcua, file: CaseFile) -> dict[str, Any]:
    """`{"current": [...], "completed": [...], "status": ...}` for the case page's diagram, as
    the engine reads it from the case's workflow (tasks ready or running and events waited for;
    completed elements in the order they completed)."""
    states = m.element_states(file.case.code)
    return {"current": states["current"], "completed": states["completed"], "status": file.case.status}

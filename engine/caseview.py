"""Read models for the staff pages (and any other reader): a task with its case and form, a case
file with its history, and what is derived from them with the working calendar (time left,
the hand-overs of Form 06). Only rows are read; no workflow is deserialized here.

Authorisation stays with the caller, which knows whether it answers 404 or 403: these functions
return what exists, the caller checks `Actor.can_read` / `Actor.can_act_in` on it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .errors import NotFound
from .models import (
    Agency,
    Case,
    CaseAccess,
    CaseEvent,
    CasePause,
    HumanTask,
    Procedure,
    ProcessDefinition,
    Staff,
)
from .motcua import Motcua


@dataclass(frozen=True)
class TaskFile:
    """One task row, its case (with procedure) and the JSON Schema of its form, as deployed with
    the case's process version (a running case keeps the forms it started with)."""

    task: HumanTask
    case: Case
    form_schema: dict[str, Any] | None
    id_number_last4: str | None


@dataclass(frozen=True)
class CaseFile:
    case: Case
    procedure: Procedure | None
    agencies: dict[int, Agency]
    pauses: list[CasePause]
    tasks: list[HumanTask]  # every task row, in the order they were opened
    events: list[CaseEvent]  # the whole history, by sequence
    id_number_last4: str | None
    # The JSON-Schema forms of the case's process version, by name (to label task data).
    forms: dict[str, Any] = field(default_factory=dict)

    def form_of_event(self, event: CaseEvent) -> dict[str, Any] | None:
        """The schema of the form the task of `event` was worked with, if any."""
        task = next((t for t in self.tasks if t.task_id == event.task_id), None)
        return self.forms.get(task.form) if task is not None and task.form else None

    @property
    def receiving(self) -> Agency:
        return self.agencies[self.case.receiving_agency_id]

    @property
    def resolving(self) -> Agency:
        return self.agencies[self.case.resolving_agency_id]

    @property
    def open_tasks(self) -> list[HumanTask]:
        return [t for t in self.tasks if t.status == "open"]

    @property
    def open_pause(self) -> CasePause | None:
        return next((p for p in self.pauses if p.ended_at is None), None)


@dataclass(frozen=True)
class TimeLeft:
    """Working hours between now and the appointment, the clock pauses taken out. Negative when
    the appointment has passed (the dossier is overdue by that much)."""

    hours: float
    paused: bool  # the legal clock stands still (supplement awaited): `hours` is frozen

    @property
    def overdue(self) -> bool:
        return self.hours < 0


@dataclass(frozen=True)
class HandOver:
    """One line of Form 06 (process-control slip): a task handed to an agency/role, when it was
    handed over and finished, and whether it finished early, on time or late against its due."""

    task_id: int
    name: str
    role: str
    agency: Agency | None
    created_at: datetime
    due_at: datetime | None
    completed_at: datetime | None
    completed_by: str | None
    assignee: str | None
    status: str  # open | completed | cancelled
    result: str | None  # early | on_time | late (completed tasks with a due time)


@dataclass(frozen=True)
class Colleague:
    username: str
    full_name: str
    agency_id: int
    roles: frozenset[str] = field(default_factory=frozenset)


def load_task(m: Motcua, task_id: int) -> TaskFile:
    with m._transaction() as session:
        task = session.scalars(
            select(HumanTask)
            .where(HumanTask.id == task_id)
            .options(joinedload(HumanTask.case).joinedload(Case.procedure))
        ).first()
        if task is None:
            raise NotFound(f"task {task_id} does not exist")
        schema = None
        if task.form:
            # Only the forms column: the definition's XML is large and not needed here.
            forms = session.scalar(
                select(ProcessDefinition.forms).where(ProcessDefinition.id == task.case.definition_id)
            )
            schema = (forms or {}).get(task.form)
        last4 = session.scalar(select(CaseAccess.id_number_last4).where(CaseAccess.case_id == task.case_id))
        return TaskFile(task=task, case=task.case, form_schema=schema, id_number_last4=last4)


def load_case_file(m: Motcua, code: str) -> CaseFile:
    with m._transaction() as session:
        case = session.scalars(
            select(Case).where(Case.code == code).options(joinedload(Case.procedure))
        ).first()
        if case is None:
            raise NotFound(f"case {code!r} does not exist")
        tasks = list(
            session.scalars(
                select(HumanTask)
                .where(HumanTask.case_id == case.id)
                .order_by(HumanTask.created_at, HumanTask.id)
            )
        )
        agency_ids = {case.receiving_agency_id, case.resolving_agency_id, *(t.agency_id for t in tasks)}
        agencies = {a.id: a for a in session.scalars(select(Agency).where(Agency.id.in_(agency_ids)))}
        pauses = list(
            session.scalars(
                select(CasePause).where(CasePause.case_id == case.id).order_by(CasePause.started_at)
            )
        )
        events = list(
            session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq))
        )
        last4 = session.scalar(select(CaseAccess.id_number_last4).where(CaseAccess.case_id == case.id))
        forms = session.scalar(
            select(ProcessDefinition.forms).where(ProcessDefinition.id == case.definition_id)
        )
        return CaseFile(
            case=case,
            procedure=case.procedure,
            agencies=agencies,
            pauses=pauses,
            tasks=tasks,
            events=events,
            id_number_last4=last4,
            forms=forms or {},
        )


def time_left(m: Motcua, file: CaseFile, now: datetime | None = None) -> TimeLeft | None:
    """None when there is no appointment yet or processing has ended."""
    case = file.case
    if case.appointment_at is None or case.finished_at is not None:
        return None
    now = now or m.clock.now()
    pause = file.open_pause
    # While the clock is paused the appointment will move by the pause's length when it
    # resumes, so what is left is what was left when the pause began.
    start = pause.started_at if pause is not None and pause.started_at < now else now
    pauses = [(p.started_at, p.ended_at) for p in file.pauses if p.ended_at is not None]
    if start <= case.appointment_at:
        hours = m.calendar.working_hours_between(start, case.appointment_at, pauses)
    else:
        hours = -m.calendar.working_hours_between(case.appointment_at, start, pauses)
    return TimeLeft(hours=round(hours, 2), paused=pause is not None)


def hand_overs(m: Motcua, file: CaseFile) -> list[HandOver]:
    out = []
    for task in file.tasks:
        result = None
        if task.status == "completed" and task.completed_at is not None and task.due_at is not None:
            result = m.calendar.classify(task.completed_at, task.due_at)
        out.append(
            HandOver(
                task_id=task.id,
                name=task.name,
                role=task.role,
                agency=file.agencies.get(task.agency_id),
                created_at=task.created_at,
                due_at=task.due_at,
                completed_at=task.completed_at,
                completed_by=task.completed_by,
                assignee=task.assignee,
                status=task.status,
                result=result,
            )
        )
    return out


def colleagues(m: Motcua, agency_ids: Iterable[int]) -> list[Colleague]:
    """Active staff of these agencies (whom a leader may assign the agency's tasks to)."""
    ids = sorted(set(agency_ids))
    if not ids:
        return []
    with m._transaction() as session:
        rows = session.scalars(
            select(Staff)
            .where(Staff.agency_id.in_(ids), Staff.active)
            .order_by(Staff.full_name, Staff.username)
        ).all()
    return [Colleague(s.username, s.full_name, s.agency_id, frozenset(s.roles or ())) for s in rows]


def agencies(m: Motcua, agency_ids: Iterable[int]) -> dict[int, Agency]:
    ids = sorted(set(agency_ids))
    with m._transaction() as session:
        return {a.id: a for a in session.scalars(select(Agency).where(Agency.id.in_(ids)))}

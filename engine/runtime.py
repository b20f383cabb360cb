"""The case runtime: every change to a case is one step, and one step is one transaction.

A step restores the workflow (cached spec + the case's own state), lets SpiffWorkflow advance,
then writes in the same transaction: the new state under a compare-and-swap on `cases.version`,
the human-task projection, history events and outbox rows. Signals go out after commit."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.message import (
    MessageEventDefinition as BpmnMessageEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from . import signals
from .actors import Actor
from .calendar import WorkingCalendar
from .clock import Clock
from .definitions import CompiledProcess
from .errors import CaseConflict, FormInvalid, InvalidAction, PermissionDenied
from .history import chain_event, json_safe
from .models import (
    Agency,
    Case,
    CaseEvent,
    CasePause,
    FeedbackPublication,
    HumanTask,
    OutboxMessage,
    ProcessDefinition,
)
from .outbox import outbox_row
from .sandbox import SandboxScriptEngine
from .script_functions import CaseScope, build_functions
from .state import STATE_FORMAT, StateSerializer
from .statuses import get_status

# A safety cap on task-tree growth (trap 9): a looping diagram that runs away stops here.
MAX_TASKS_PER_CASE = 5000


@dataclass(frozen=True)
class OpenTask:
    """A human task left open by a step (so callers need not query the inbox again)."""

    id: int
    element_id: str
    name: str
    role: str
    agency_id: int


@dataclass
class StepResult:
    case_id: int
    case_code: str
    status: str
    version: int
    events: list[str] = field(default_factory=list)
    open_tasks: list[OpenTask] = field(default_factory=list)
    # The applicant's lookup PIN, only when the step issued one (shown once, stored hashed).
    pin: str | None = None


class CaseStep:
    """One step on one case, inside an open transaction."""

    def __init__(
        self,
        session: Session,
        case: Case,
        compiled: CompiledProcess,
        clock: Clock,
        calendar: WorkingCalendar,
        serializer: StateSerializer,
        actor: Actor,
        script_time_limit: float,
        workflow: BpmnWorkflow | None = None,
    ):
        self.session = session
        self.case = case
        self.compiled = compiled
        self.clock = clock
        self.calendar = calendar
        self.serializer = serializer
        self.actor = actor
        self.now = clock.now()
        self.loaded_version = case.version
        procedure = case.procedure
        self.scope = CaseScope(
            clock=clock,
            calendar=calendar,
            appointment_at=case.appointment_at,
            time_limit=procedure.time_limit if procedure else None,
            time_unit=procedure.time_unit if procedure else None,
            cutoff=procedure.cutoff if procedure else False,
            extension_count=case.extension_count,
        )
        engine = SandboxScriptEngine(build_functions(self.scope), time_limit=script_time_limit)
        engine.clock = clock  # read by the engine's timer event definitions
        if workflow is None:
            workflow = serializer.load(case.state, compiled.spec, compiled.subprocess_specs, engine)
        else:
            workflow.script_engine = engine
        self.workflow = workflow
        # SpiffWorkflow stamps every state change with time.time(); what completed during this
        # step is what changed after this instant (cheaper than diffing the whole tree).
        self.started = time.time()
        self.pending_events: list[tuple[str, dict[str, Any], str | None, str | None]] = []
        self.completed_task: tuple[str, str] | None = None  # (spiff task id, username)
        # The case's open task rows, when the caller already loaded them (saves a query).
        self.known_open_rows: list[HumanTask] | None = None
        # Status changes before this step (portal messages carry the history); read once.
        self.history_before: list[dict[str, Any]] | None = None
        self.history_sent: list[dict[str, Any]] = []

    # -- actions --------------------------------------------------------------------------

    def run_engine(self) -> None:
        self.workflow.do_engine_steps()
        if len(self.workflow.tasks) > MAX_TASKS_PER_CASE:
            raise InvalidAction(
                f"case {self.case.code} exceeded {MAX_TASKS_PER_CASE} tasks; the diagram loops"
            )

    def event(
        self, type_: str, task_id: str | None = None, element_id: str | None = None, **data: Any
    ) -> None:
        self.pending_events.append((type_, data, task_id, element_id))

    # -- finishing ------------------------------------------------------------------------

    def finish(self) -> StepResult:
        case = self.case
        with self.session.no_autoflush:
            return self._finish(case)

    def _finish(self, case: Case) -> StepResult:
        # One walk over the task tree for both questions (walks are the costliest part of a step).
        newly_completed, ready = [], {}
        for task in self.workflow.get_tasks(state=TaskState.COMPLETED | TaskState.READY):
            if task.state == TaskState.READY:
                if task.task_spec.manual:
                    ready[str(task.id)] = task
            elif task.last_state_change >= self.started:
                newly_completed.append(task)
        newly_completed.sort(key=lambda t: t.last_state_change)
        events: list[tuple[str, dict[str, Any], str | None, str | None]] = list(self.pending_events)
        self._apply_effects(events)
        for task in newly_completed:
            spec = task.task_spec
            if _fired_by_timer(task):
                events.append(
                    (
                        "timer_fired",
                        {"name": spec.bpmn_name or spec.name, "due": task._get_internal_data("event_value")},
                        str(task.id),
                        spec.name,
                    )
                )
            info = self.compiled.nodes.get(spec.name)
            if info and info.case_status and info.case_status != case.status:
                self._change_status(info.case_status, events, str(task.id), spec.name)
        self._project_tasks(events, ready)
        if self.workflow.is_completed() and not case.completed:
            case.completed = True
            events.append(("case_finished", {"status": case.status}, None, None))
        case.wake_at = None if case.completed else self._next_wake()
        case.state = self.serializer.dump(self.workflow)
        case.state_format = STATE_FORMAT
        case.updated_at = self.now
        event_rows, outbox_rows = [], []
        for type_, data, task_id, element_id in events:
            event_rows.append(
                chain_event(
                    case,
                    type_,
                    self.actor.username,
                    self.now,
                    task_id=task_id,
                    element_id=element_id,
                    data=data,
                )
            )
            if type_ in ("status_changed", "appointment_changed"):
                outbox_rows.append(
                    outbox_row(case, f"case.{type_}", self._portal_payload(type_, data), self.now)
                )
        # The case UPDATE (with its version check) is flushed first, then the rows that hang off
        # the case, so a lost race fails before anything else is written.
        self.session.flush()
        if event_rows:
            self.session.execute(insert(CaseEvent), event_rows)
        if outbox_rows:
            self.session.execute(insert(OutboxMessage), outbox_rows)
        open_tasks = [
            OpenTask(row.id, row.element_id, row.name, row.role, row.agency_id) for row in self.open_rows
        ]
        return StepResult(case.id, case.code, case.status, case.version, [e[0] for e in events], open_tasks)

    def _apply_effects(self, events: list) -> None:
        case = self.case
        for effect in self.scope.effects:
            if effect.kind == "appointment_scheduled":
                case.received_at = effect.data["received_at"]
                case.appointment_at = effect.data["appointment_at"]
                case.original_appointment_at = effect.data["appointment_at"]
                events.append(
                    (
                        "appointment_changed",
                        {"appointment_at": case.appointment_at, "reason": "scheduled"},
                        None,
                        None,
                    )
                )
            elif effect.kind == "appointment_extended":
                case.appointment_at = effect.data["appointment_at"]
                case.extension_count += 1
                events.append(
                    (
                        "appointment_changed",
                        {
                            "appointment_at": case.appointment_at,
                            "previous": effect.data["previous"],
                            "reason": effect.data["reason"],
                            "extension": True,
                        },
                        None,
                        None,
                    )
                )
        self.scope.effects.clear()

    def _change_status(self, new: str, events: list, task_id: str | None, element_id: str | None) -> None:
        case = self.case
        old = case.status
        status = get_status(case.kind, new)
        previous = get_status(case.kind, old) if old else None
        if previous and previous.pauses_clock and not status.pauses_clock:
            resume_clock(self.session, case, self.calendar, self.now, events)
        self._record_status(new, status.national_code)
        case.status = new
        events.append(
            (
                "status_changed",
                {"from": old, "to": new, "national_code": status.national_code},
                task_id,
                element_id,
            )
        )
        if status.pauses_clock:
            open_pause = self.session.scalars(
                select(CasePause).where(CasePause.case_id == case.id, CasePause.ended_at.is_(None))
            ).first()
            if open_pause is None:
                self.session.add(CasePause(case_id=case.id, reason=new, started_at=self.now))
                events.append(("clock_paused", {"reason": new}, None, None))
        if status.ends_processing and case.finished_at is None:
            case.finished_at = self.now
        if status.returns_result and case.returned_at is None:
            case.returned_at = self.now
        if case.kind == "feedback" and new == "published":
            self._publish_answer()

    def _publish_answer(self) -> None:
        """A published feedback answer appears on the portal: the answer the leader approved."""
        data = self.latest_data()
        answer = str(data.get("answer_draft") or data.get("reply_content") or "").strip()
        # Kept for this step's outbox message: the feedback system publishes the same text.
        self.published_answer = {"text": answer, "published_at": self.now}
        self.session.add(
            FeedbackPublication(
                case_id=self.case.id,
                question=str(data.get("content", self.case.title)),
                answer=answer,
                published_at=self.now,
                likes=0,
                dislikes=0,
            )
        )

    def latest_data(self) -> dict[str, Any]:
        """Task data as it stands after this step (the most recently changed task wins)."""
        tasks = sorted(self.workflow.get_tasks(state=TaskState.COMPLETED), key=lambda t: t.last_state_change)
        return dict(tasks[-1].data) if tasks else {}

    def _project_tasks(self, events: list, ready: dict[str, Any]) -> None:
        case = self.case
        if self.known_open_rows is None:
            self.known_open_rows = list(
                self.session.scalars(
                    select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.status == "open")
                )
            )
        rows = {row.task_id: row for row in self.known_open_rows}
        self.open_rows = [row for task_id, row in rows.items() if task_id in ready]
        for task_id, row in rows.items():
            if task_id in ready:
                continue
            spiff_task = self.workflow.get_task_from_id(UUID(task_id))
            if spiff_task is not None and spiff_task.state == TaskState.COMPLETED:
                row.status = "completed"
                row.completed_at = self.now
                by = (
                    self.completed_task[1]
                    if self.completed_task and self.completed_task[0] == task_id
                    else None
                )
                row.completed_by = by or self.actor.username
            else:
                row.status = "cancelled"
                row.completed_at = self.now
                events.append(("task_cancelled", {"name": row.name}, task_id, row.element_id))
        for task_id, task in ready.items():
            if task_id in rows:
                continue
            spec = task.task_spec
            lane = self.compiled.lanes.get(spec.lane or "")
            if lane is None:
                raise InvalidAction(f"user task {spec.name} is in no mapped lane")
            # The case's agencies travel in the data from the start event (slot -> agency code).
            agency_id = self._agency_for(lane.agency, task.data.get("agencies", {}))
            info = self.compiled.nodes.get(spec.name)
            due = self._due_for(info)
            row = HumanTask(
                case_id=case.id,
                task_id=task_id,
                element_id=spec.name,
                name=spec.bpmn_name or spec.name,
                lane=lane.name,
                role=lane.role,
                agency_id=agency_id,
                form=info.form if info else None,
                assignee=None,
                candidates=[],
                created_at=self.now,
                due_at=due,
                status="open",
            )
            self.session.add(row)
            self.open_rows.append(row)
            events.append(
                (
                    "task_created",
                    {"name": row.name, "role": lane.role, "agency_id": agency_id, "due_at": due},
                    task_id,
                    spec.name,
                )
            )

    def _agency_for(self, slot: str, agencies: dict[str, Any]) -> int:
        if slot == "receiving":
            return self.case.receiving_agency_id
        if slot == "resolving":
            return self.case.resolving_agency_id
        code = agencies.get(slot)
        agency = self.session.scalars(select(Agency).where(Agency.code == code)).first() if code else None
        if agency is None:
            raise InvalidAction(f"case {self.case.code} names no agency for lane slot {slot!r}")
        return agency.id

    def _due_for(self, info: Any) -> datetime | None:
        budget = info.budget if info else None
        if budget is None:
            return self.case.appointment_at
        amount, unit = budget
        if unit == "d":
            return self.calendar.add_working_days(self.now, amount)
        return self.calendar.add_working_hours(self.now, amount)

    def _next_wake(self) -> datetime | None:
        instants = []
        for task, definition in waiting_definitions(self.workflow):
            value = task._get_internal_data("event_value")
            if isinstance(definition, TimerEventDefinition) and isinstance(value, str):
                instant = datetime.fromisoformat(value)
                instants.append(instant if instant.tzinfo else instant.replace(tzinfo=UTC))
        return min(instants) if instants else None

    def _portal_payload(self, type_: str, data: dict[str, Any]) -> dict[str, Any]:
        payload = case_summary(self.case)
        if type_ == "status_changed":
            # The status this message reports, not the one the step ended in.
            payload["status"] = data["to"]
            payload["national_status_code"] = data["national_code"]
            self.history_sent.append(
                {"status": data["to"], "national_code": data["national_code"], "at": self.now.isoformat()}
            )
            answer = getattr(self, "published_answer", None)
            if data["to"] == "published" and answer is not None:
                payload["answer"] = answer
        # Each message carries the history as it stood when its change happened.
        payload["status_history"] = [dict(entry) for entry in (*self._history_before(), *self.history_sent)]
        payload["event"] = type_
        payload["change"] = json_safe(data)
        return payload

    def _record_status(self, status: str, national_code: int | None) -> None:
        """Keep the status history in the case's facts (a column of the row already loaded), so
        building a portal message never queries the history table."""
        before = self._history_before()
        entry = {"status": status, "national_code": national_code, "at": self.now.isoformat()}
        facts = dict(self.case.facts or {})
        facts["status_history"] = [*facts.get("status_history", before), entry]
        self.case.facts = facts

    def _history_before(self) -> list[dict[str, Any]]:
        if self.history_before is None:
            facts = self.case.facts or {}
            if "status_history" in facts or not self.case.history_seq:
                self.history_before = list(facts.get("status_history", []))
            else:  # a case from before the history was kept in its facts: read it once
                rows = self.session.execute(
                    select(CaseEvent.data, CaseEvent.at)
                    .where(CaseEvent.case_id == self.case.id, CaseEvent.type == "status_changed")
                    .order_by(CaseEvent.seq)
                )
                self.history_before = [
                    {"status": d.get("to"), "national_code": d.get("national_code"), "at": at.isoformat()}
                    for d, at in rows
                ]
        return self.history_before


def resume_clock(
    session: Session, case: Case, calendar: WorkingCalendar, now: datetime, events: list
) -> None:
    """Close the open pause and move the appointment by the working time it lasted: the legal
    clock pauses while the applicant supplements; it does not restart."""
    pause = session.scalars(
        select(CasePause).where(CasePause.case_id == case.id, CasePause.ended_at.is_(None))
    ).first()
    # The same step may already have closed it in memory (not flushed yet).
    if pause is None or pause.ended_at is not None:
        return
    pause.ended_at = now
    hours = calendar.working_hours_between(pause.started_at, now)
    events.append(
        ("clock_resumed", {"reason": pause.reason, "paused_working_hours": round(hours, 2)}, None, None)
    )
    if case.appointment_at is not None and hours > 0:
        previous = case.appointment_at
        case.appointment_at = calendar.add_working_hours(previous, hours)
        events.append(
            (
                "appointment_changed",
                {"appointment_at": case.appointment_at, "previous": previous, "reason": "clock paused"},
                None,
                None,
            )
        )


def case_summary(case: Case) -> dict[str, Any]:
    """What external portals are told about a case (DOMAIN.md, synced fields)."""
    status = get_status(case.kind, case.status) if case.status else None
    procedure = case.procedure
    return json_safe(
        {
            "kind": case.kind,
            "code": case.code,
            "procedure_code": procedure.code if procedure else None,
            "procedure_version": procedure.version if procedure else None,
            "status": case.status,
            "national_status_code": status.national_code if status else None,
            "channel": case.channel,
            "receiving_agency_id": case.receiving_agency_id,
            "resolving_agency_id": case.resolving_agency_id,
            "submitted_at": case.submitted_at,
            "received_at": case.received_at,
            "appointment_at": case.appointment_at,
            "finished_at": case.finished_at,
            "returned_at": case.returned_at,
            "extension_count": case.extension_count,
            **(case.facts or {}),
        }
    )


def validate_form(compiled: CompiledProcess, form: str | None, data: dict[str, Any]) -> None:
    """Check task data against the task's JSON Schema before the workflow sees it."""
    if not form:
        return
    validator = compiled.validators.get(form)
    if validator is None:
        raise FormInvalid({"_form": [f"form {form!r} is not part of this process version"]})
    errors: dict[str, list[str]] = {}
    for err in validator.iter_errors(data):
        path = ".".join(str(p) for p in err.absolute_path)
        if err.validator == "required":
            missing = err.message.split("'")[1] if "'" in err.message else err.message
            path = f"{path}.{missing}" if path else missing
            errors.setdefault(path, []).append("this field is required")
        else:
            errors.setdefault(path or "_form", []).append(err.message)
    if errors:
        raise FormInvalid(errors)


def check_task_permission(row: HumanTask, actor: Actor, *, to_complete: bool = False) -> None:
    if not actor.can_act_in(row.role, row.agency_id):
        raise PermissionDenied(
            f"{actor.username} may not work task {row.id} ({row.role} of agency {row.agency_id})"
        )
    if to_complete and row.assignee and row.assignee != actor.username and not actor.is_system:
        raise PermissionDenied(f"task {row.id} is claimed by {row.assignee}")


@contextmanager
def conflict_guard(code: str) -> Iterator[None]:
    """Map the database's own serialization failures to the domain's CaseConflict."""
    from sqlalchemy.exc import IntegrityError, OperationalError
    from sqlalchemy.orm.exc import StaleDataError

    try:
        yield
    except StaleDataError as err:
        raise CaseConflict(f"case {code} was changed by someone else; reload and try again") from err
    except (IntegrityError, OperationalError) as err:
        text = str(err.orig) if getattr(err, "orig", None) else str(err)
        if "locked" in text or "could not serialize" in text or "duplicate key" in text or "UNIQUE" in text:
            raise CaseConflict(f"case {code} was changed concurrently; reload and try again") from err
        raise


def _fired_by_timer(task: Any) -> bool:
    spec = task.task_spec
    if not isinstance(spec, CatchingEvent):
        return False
    definition = spec.event_definition
    if isinstance(definition, TimerEventDefinition):
        return True
    seen = (
        task.internal_data.get("seen_events", []) if isinstance(definition, MultipleEventDefinition) else []
    )
    return any(isinstance(event.event_definition, TimerEventDefinition) for event in seen)


def waiting_definitions(workflow: BpmnWorkflow) -> Iterator[tuple[Any, Any]]:
    """(task, event definition) for every event the case waits for, with the alternatives of
    event-based gateways (a MultipleEventDefinition) spelled out."""
    for task in list(workflow.event_manager.tasks.values()):
        if task.state != TaskState.WAITING:
            continue
        definition = task.task_spec.event_definition
        if isinstance(definition, MultipleEventDefinition):
            yield from ((task, d) for d in definition.event_definitions)
        else:
            yield task, definition


def deliver(workflow: BpmnWorkflow, name: str, payload: Any) -> None:
    waiting = [
        d
        for _, d in waiting_definitions(workflow)
        if isinstance(d, BpmnMessageEventDefinition) and d.name == name
    ]
    if not waiting:
        raise InvalidAction(f"nothing in this case waits for message {name!r} now")
    workflow.catch(BpmnEvent(MessageEventDefinition(name), payload))


def definition_loader(definition: ProcessDefinition) -> Callable[[], Any]:
    from .definitions import Bundle

    def load() -> Bundle:
        return Bundle(
            filename=definition.filename,
            bpmn=definition.bpmn_xml.encode("utf-8"),
            dmn={k: v.encode("utf-8") for k, v in definition.dmn_files.items()},
            forms=definition.forms,
        )

    return load


def send_signals(sender: Any, result: StepResult) -> None:
    kwargs = {"case_id": result.case_id, "case_code": result.case_code, "events": result.events}
    if "case_started" in result.events:
        signals.case_started.send(sender, **kwargs)
    signals.case_changed.send(sender, **kwargs)
    if "task_created" in result.events:
        signals.task_created.send(sender, **kwargs)
    if "task_completed" in result.events:
        signals.task_completed.send(sender, **kwargs)
    if "case_finished" in result.events:
        signals.case_finished.send(sender, **kwargs)

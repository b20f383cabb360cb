"""The engine's front door, usable from a Python shell, the CLI, the web app or a worker:

    >>> from engine import Motcua
    >>> m = Motcua.from_env(); m.migrate(); m.deploy_processes()
    >>> m.receive_dossier("1.001234", "XA_A", applicant={...}, actor=officer)

One Motcua object per process holds the database engine, the clock, the calendar and the spec
cache; nothing else in the engine keeps global state."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.defaults import EventBasedGateway
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, load_only, selectinload

from . import migrate as migrations
from .actors import SYSTEM, Actor
from .calendar import CalendarOverride, OfficeHours, WorkingCalendar, default_calendar
from .catalogue import agency_by_code, procedure_in_force, subtree_ids
from .clock import Clock, SystemClock
from .codes import next_code
from .config import Settings
from .db import is_postgres, make_engine, session_factory, transaction
from .definitions import Bundle, CompiledProcess, DefinitionChecker, SpecCache, load_bundle
from .errors import CaseConflict, DefinitionInvalid, InvalidAction, NotFound, PermissionDenied, Problem
from .history import HistoryVerdict, append_event, verify_history
from .models import Agency, CalendarOverrideRow, Case, HumanTask, ProcessDefinition, Staff
from .process_log import record_deployment
from .runtime import (
    CaseStep,
    StepResult,
    check_task_permission,
    conflict_guard,
    definition_loader,
    deliver,
    resume_clock,
    send_signals,
    validate_form,
)
from .script_functions import CaseScope, build_functions
from .state import STATE_FORMAT, StateSerializer
from .statuses import status_keys


class Motcua:
    def __init__(
        self, settings: Settings | None = None, *, clock: Clock | None = None, database_url: str | None = None
    ):
        self.settings = settings or Settings.from_env()
        self.clock: Clock = clock or SystemClock()
        self.db = make_engine(database_url or self.settings.resolved_database_url)
        self.sessions = session_factory(self.db)
        self.specs = SpecCache()
        self.serializer = StateSerializer()
        self._calendar: WorkingCalendar | None = None

    @classmethod
    def from_env(cls, **kwargs: Any) -> Motcua:
        return cls(Settings.from_env(), **kwargs)

    # -- schema, calendar ---------------------------------------------------------------------

    def migrate(self) -> None:
        if self.db.url.get_backend_name() == "sqlite" and self.db.url.database:
            Path(self.db.url.database).parent.mkdir(parents=True, exist_ok=True)
        migrations.upgrade(self.db)

    @property
    def calendar(self) -> WorkingCalendar:
        """VN holidays + the seeded notices + the database override table (the table wins)."""
        if self._calendar is None:
            base = default_calendar()
            calendar = WorkingCalendar(base.overrides, OfficeHours.parse(self.settings.office_hours))
            with transaction(self.sessions) as session:
                rows = session.scalars(select(CalendarOverrideRow).order_by(CalendarOverrideRow.day)).all()
                extra = [CalendarOverride(r.day, r.working, r.note) for r in rows]
            self._calendar = calendar.with_overrides(extra)
        return self._calendar

    def _transaction(self):  # type: ignore[no-untyped-def]
        """A unit of work. The calendar is loaded first, outside it: on SQLite a second
        transaction opened inside ours (to read the override table) would wait for ours."""
        _ = self.calendar
        return transaction(self.sessions)

    def set_calendar_override(self, day: date, working: bool, note: str) -> None:
        with self._transaction() as session:
            row = session.get(CalendarOverrideRow, day) or CalendarOverrideRow(day=day)
            row.working, row.note = working, note
            session.add(row)
        self._calendar = None

    # -- definitions -------------------------------------------------------------------------

    def checker(self) -> DefinitionChecker:
        # Sample case facts, so timer expressions can be tried out at deploy time.
        scope = CaseScope(
            clock=self.clock,
            calendar=self.calendar,
            time_limit=5,
            time_unit="working_days",
            appointment_at=self.clock.now(),
        )
        return DefinitionChecker(
            self.settings.roles, status_keys(), self.settings.max_definition_bytes, build_functions(scope)
        )

    def check_file(self, path: Path) -> list[Problem]:
        if path.suffix.lower() == ".dmn":
            return self.checker()._dmn(path.name, path.read_bytes())
        return self.checker().check(load_bundle(path, self.forms_dir))

    @property
    def forms_dir(self) -> Path:
        return self.settings.processes_dir / "forms"

    def deploy_file(self, path: Path, actor: Actor = SYSTEM, note: str = "") -> ProcessDefinition:
        return self.deploy_bundle(load_bundle(path, self.forms_dir), actor, note)

    def deploy_bundle(self, bundle: Bundle, actor: Actor = SYSTEM, note: str = "") -> ProcessDefinition:
        """Store a new version unless identical content is already deployed; nothing is stored
        when the bundle has problems."""
        compiled, problems = self.checker().check_and_compile(bundle)
        if compiled is None or problems:
            raise DefinitionInvalid(problems)
        with self._transaction() as session:
            return self.store_definition(session, bundle, compiled, actor, note)[0]

    def store_definition(
        self, session: Session, bundle: Bundle, compiled: CompiledProcess, actor: Actor, note: str
    ) -> tuple[ProcessDefinition, bool]:
        """The version for a checked bundle inside the caller's transaction, and whether it was
        stored now (False: identical content was already deployed as that version). A new version
        and its deploy record in the process log are written together."""
        digest = bundle.sha256
        existing = session.scalars(
            select(ProcessDefinition).where(
                ProcessDefinition.process_id == compiled.process_id, ProcessDefinition.sha256 == digest
            )
        ).first()
        if existing is not None:
            return existing, False
        latest = session.scalars(
            select(ProcessDefinition)
            .options(load_only(ProcessDefinition.version))
            .where(ProcessDefinition.process_id == compiled.process_id)
            .order_by(ProcessDefinition.version.desc())
        ).first()
        definition = ProcessDefinition(
            process_id=compiled.process_id,
            version=(latest.version + 1) if latest else 1,
            sha256=digest,
            filename=bundle.filename,
            bpmn_xml=bundle.bpmn.decode("utf-8"),
            dmn_files={k: v.decode("utf-8") for k, v in bundle.dmn.items()},
            forms=bundle.forms,
            lanes={k: {"role": v.role, "agency": v.agency} for k, v in compiled.lanes.items()},
            deployed_at=self.clock.now(),
            deployed_by=actor.username,
            note=note,
        )
        session.add(definition)
        session.flush()
        record_deployment(session, definition, actor.username, definition.deployed_at)
        return definition, True

    def deploy_processes(self, actor: Actor = SYSTEM) -> list[ProcessDefinition]:
        return [self.deploy_file(p, actor) for p in sorted(self.settings.processes_dir.glob("*.bpmn"))]

    def latest_definition(self, session: Session, process_id: str) -> ProcessDefinition:
        # Only the identity columns: the XML and forms are read once per version, by the spec cache.
        definition = session.scalars(
            select(ProcessDefinition)
            .options(load_only(ProcessDefinition.id, ProcessDefinition.process_id, ProcessDefinition.version))
            .where(ProcessDefinition.process_id == process_id)
            .order_by(ProcessDefinition.version.desc())
        ).first()
        if definition is None:
            raise NotFound(f"process {process_id!r} is not deployed")
        return definition

    def compiled_for(self, session: Session, case: Case) -> CompiledProcess:
        """The case's parsed process; the definition row (large XML) is read only on a cache miss."""
        return self.specs.get(
            case.definition_id,
            lambda: definition_loader(session.get(ProcessDefinition, case.definition_id))(),
        )

    # -- starting cases -----------------------------------------------------------------------

    def receive_dossier(
        self,
        procedure_code: str,
        receiving_agency: str,
        *,
        applicant: dict[str, Any],
        actor: Actor,
        channel: str = "direct",
        components: Iterable[dict[str, Any]] = (),
        resolving_agency: str | None = None,
        submitted_at: datetime | None = None,
        extra: dict[str, Any] | None = None,
        id_number: str | None = None,
        issue_pin: bool = False,
    ) -> StepResult:
        """Take in a dossier (tiếp nhận): code it, pin the procedure version in force, start its process."""
        if channel not in ("direct", "online", "postal"):
            raise InvalidAction(f"channel {channel!r} must be direct, online or postal")
        components = _components(components)
        now = self.clock.now()
        with self._transaction() as session:
            receiving = agency_by_code(session, receiving_agency)
            resolving = agency_by_code(session, resolving_agency) if resolving_agency else receiving
            if not actor.is_system and receiving.id not in actor.agency_ids:
                raise PermissionDenied(f"{actor.username} does not work for agency {receiving.code}")
            local_day = now.astimezone(self.calendar.tz).date()
            procedure = procedure_in_force(session, procedure_code, local_day)
            definition = self.latest_definition(session, procedure.process_id)
            code = next_code(session, receiving, local_day, "dossier")
            agencies = {"receiving": receiving.code, "resolving": resolving.code, **procedure.extra_agencies}
            data = {
                "dossier_code": code,
                "channel": channel,
                "submitted_at": (submitted_at or now).astimezone(self.calendar.tz).isoformat(),
                "applicant": applicant,
                "components": components,
                "agencies": agencies,
                "procedure": {
                    "code": procedure.code,
                    "version": procedure.version,
                    "name": procedure.name,
                    "time_limit": procedure.time_limit,
                    "time_unit": procedure.time_unit,
                    "cutoff": procedure.cutoff,
                    "fees": procedure.fees,
                },
                **(extra or {}),
            }
            case = Case(
                kind="dossier",
                code=code,
                definition_id=definition.id,
                procedure_id=procedure.id,
                status="new",
                channel=channel,
                receiving_agency_id=receiving.id,
                resolving_agency_id=resolving.id,
                title=procedure.name,
                applicant_name=str(applicant.get("name", "")),
                submitted_at=submitted_at or now,
                state=b"",
                state_format=STATE_FORMAT,
                version=1,
                created_at=now,
                updated_at=now,
                history_seq=0,
                history_head="",
                facts={
                    "components": components,
                    "fees": procedure.fees,
                    "paid_online": bool((extra or {}).get("paid_online", False)),
                    # Placeholder until reception records how the applicant signed in: false
                    # unless the channel (an online submission) says VNeID was used.
                    "vneid": bool((extra or {}).get("vneid", False)),
                    **_agency_facts(receiving, resolving),
                },
            )
            case.procedure = procedure
            result = self._start(session, case, definition, data, actor)
            if issue_pin or id_number:
                from .access import attach_pin

                # In the reception transaction: a dossier never exists without its PIN, and the
                # ID number is stored only encrypted, never in the workflow data.
                result.pin = attach_pin(self, session, case, id_number)
        send_signals(self, result)
        return result

    def submit_feedback(
        self,
        receiving_agency: str,
        *,
        sender: dict[str, Any],
        category: str,
        content: str,
        actor: Actor,
        channel: str = "online",
        resolving_agency: str | None = None,
        issue_pin: bool = False,
    ) -> StepResult:
        """Take in a feedback on administrative regulations (phản ánh, kiến nghị)."""
        missing = [k for k in ("name", "address", "phone") if not str(sender.get(k, "")).strip()]
        if missing:
            # Decree 20/2008: a feedback must carry the sender's name, address and phone.
            raise InvalidAction(f"feedback sender must give {', '.join(missing)}")
        now = self.clock.now()
        with self._transaction() as session:
            receiving = agency_by_code(session, receiving_agency)
            resolving = agency_by_code(session, resolving_agency) if resolving_agency else receiving
            local_day = now.astimezone(self.calendar.tz).date()
            definition = self.latest_definition(session, "feedback")
            code = next_code(session, receiving, local_day, "feedback")
            data = {
                "feedback_code": code,
                "channel": channel,
                "submitted_at": now.astimezone(self.calendar.tz).isoformat(),
                "received_at": now.astimezone(self.calendar.tz).isoformat(),
                "sender": sender,
                "category": category,
                "content": content,
                "agencies": {"receiving": receiving.code, "resolving": resolving.code},
                "limits": dict(self.settings.feedback_limits),
            }
            case = Case(
                kind="feedback",
                code=code,
                definition_id=definition.id,
                procedure_id=None,
                status="received",
                channel=channel,
                receiving_agency_id=receiving.id,
                resolving_agency_id=resolving.id,
                title=content[:200],
                applicant_name=str(sender.get("name", "")),
                submitted_at=now,
                received_at=now,
                state=b"",
                state_format=STATE_FORMAT,
                version=1,
                created_at=now,
                updated_at=now,
                history_seq=0,
                history_head="",
                facts={"category": category, **_agency_facts(receiving, resolving)},
            )
            result = self._start(session, case, definition, data, actor)
            if issue_pin:
                from .access import attach_pin

                result.pin = attach_pin(self, session, case)
        send_signals(self, result)
        return result

    def _start(
        self, session: Session, case: Case, definition: ProcessDefinition, data: dict[str, Any], actor: Actor
    ) -> StepResult:
        compiled = self.compiled_for(session, case)
        workflow = BpmnWorkflow(compiled.spec, compiled.subprocess_specs)
        start = workflow.get_tasks(state=TaskState.READY)[0]
        start.data.update(data)
        step = self._step(session, case, compiled, actor, workflow=workflow)
        session.add(case)
        session.flush()
        step.event(
            "case_started",
            kind=case.kind,
            code=case.code,
            process_id=definition.process_id,
            process_version=definition.version,
            channel=case.channel,
        )
        step.run_engine()
        return step.finish()

    def _step(
        self,
        session: Session,
        case: Case,
        compiled: CompiledProcess,
        actor: Actor,
        workflow: BpmnWorkflow | None = None,
    ) -> CaseStep:
        return CaseStep(
            session,
            case,
            compiled,
            self.clock,
            self.calendar,
            self.serializer,
            actor,
            self.settings.script_time_limit,
            workflow=workflow,
        )

    # -- task actions ------------------------------------------------------------------------

    def complete_task(
        self, task_id: int, data: dict[str, Any], actor: Actor, expected_version: int | None = None
    ) -> StepResult:
        with conflict_guard(f"task {task_id}"), self._transaction() as session:
            # The case's open tasks (this one among them), the case and its procedure in one query:
            # the step needs them all to project the task list afterwards.
            open_rows = session.scalars(
                select(HumanTask)
                .where(
                    HumanTask.case_id
                    == select(HumanTask.case_id).where(HumanTask.id == task_id).scalar_subquery(),
                    HumanTask.status == "open",
                )
                .options(joinedload(HumanTask.case).joinedload(Case.procedure))
            ).all()
            row = next((r for r in open_rows if r.id == task_id), None) or self._task_row(session, task_id)
            case = row.case
            if row.status != "open":
                raise CaseConflict(f"task {task_id} ({row.name}) is already {row.status}")
            if expected_version is not None and case.version != expected_version:
                raise CaseConflict(f"case {case.code} changed since version {expected_version}")
            check_task_permission(row, actor, to_complete=True)
            compiled = self.compiled_for(session, case)
            validate_form(compiled, row.form, data)
            step = self._step(session, case, compiled, actor)
            step.known_open_rows = open_rows
            task = step.workflow.get_task_from_id(UUID(row.task_id))
            if task is None or task.state != TaskState.READY:
                raise CaseConflict(f"task {task_id} ({row.name}) is no longer waiting")
            before = {k: task.data.get(k) for k in data}
            task.set_data(**data)
            task.run()
            step.completed_task = (row.task_id, actor.username)
            step.event(
                "task_completed",
                task_id=row.task_id,
                element_id=row.element_id,
                name=row.name,
                before=before,
                after=data,
            )
            step.run_engine()
            result = step.finish()
        send_signals(self, result)
        return result

    def claim_task(self, task_id: int, actor: Actor) -> None:
        def claim(row: HumanTask) -> dict[str, Any]:
            check_task_permission(row, actor)
            return _claim(row, actor)

        self._task_action(task_id, actor, "task_claimed", claim)

    def release_task(self, task_id: int, actor: Actor) -> None:
        def release(row: HumanTask) -> dict[str, Any]:
            _check_leader_or(row, actor, lambda: check_task_permission(row, actor))
            if row.assignee != actor.username and "leader" not in actor.roles and not actor.is_system:
                raise PermissionDenied(f"task {row.id} is claimed by {row.assignee}, not {actor.username}")
            previous, row.assignee = row.assignee, None
            return {"previous": previous}

        self._task_action(task_id, actor, "task_released", release)

    def assign_task(self, task_id: int, assignee: str, actor: Actor) -> None:
        def assign(row: HumanTask) -> dict[str, Any]:
            _check_leader_or(row, actor, lambda: _refuse("only a leader assigns tasks to colleagues"))
            session = Session.object_session(row)
            staff = session.scalars(select(Staff).where(Staff.username == assignee, Staff.active)).first()
            if staff is None:
                raise NotFound(f"staff member {assignee!r} does not exist")
            if row.role not in staff.roles or row.agency_id != staff.agency_id:
                raise PermissionDenied(f"{assignee} cannot work {row.role} tasks of agency {row.agency_id}")
            previous, row.assignee = row.assignee, assignee
            return {"previous": previous, "assignee": assignee}

        self._task_action(task_id, actor, "task_assigned", assign)

    def _task_action(self, task_id: int, actor: Actor, event: str, change: Any) -> None:
        with conflict_guard(f"task {task_id}"), self._transaction() as session:
            row = self._task_row(session, task_id)
            if row.status != "open":
                raise CaseConflict(f"task {task_id} is already {row.status}")
            data = change(row)
            case = row.case
            # Touching the case runs its version check, so task actions race-check like steps.
            case.updated_at = self.clock.now()
            append_event(
                session,
                case,
                event,
                actor.username,
                self.clock.now(),
                task_id=row.task_id,
                element_id=row.element_id,
                data={"name": row.name, **data},
            )

    def _task_row(self, session: Session, task_id: int) -> HumanTask:
        # One query for the task, its case and the case's procedure: a step needs all three.
        row = session.scalars(
            select(HumanTask)
            .where(HumanTask.id == task_id)
            .options(joinedload(HumanTask.case).joinedload(Case.procedure))
        ).first()
        if row is None:
            raise NotFound(f"task {task_id} does not exist")
        return row

    # -- messages and timers ------------------------------------------------------------------

    def deliver_message(
        self, case_code: str, name: str, payload: dict[str, Any] | None = None, actor: Actor = SYSTEM
    ) -> StepResult:
        """A message from outside (supplement received, withdrawal requested, rating...)."""
        with conflict_guard(case_code), self._transaction() as session:
            case = self._case(session, case_code)
            step = self._step(session, case, self.compiled_for(session, case), actor)
            if name == "supplement_received":
                # The clock resumes the moment the supplement arrives, before timers are re-evaluated.
                resume_clock(session, case, self.calendar, step.now, step.pending_events)
                step.scope.appointment_at = case.appointment_at
            deliver(step.workflow, name, payload or {})
            step.event("message_received", name=name, payload=payload or {})
            step.run_engine()
            result = step.finish()
        send_signals(self, result)
        return result

    def fire_due_timers(self, limit: int = 50) -> int:
        """Advance every case whose next timer is due. Safe with many workers: a case is claimed
        with FOR UPDATE SKIP LOCKED on PostgreSQL (and BEGIN IMMEDIATE serialises SQLite)."""
        fired = 0
        for _ in range(limit):
            with conflict_guard("timer"), self._transaction() as session:
                now = self.clock.now()
                query = (
                    select(Case)
                    .where(Case.wake_at.is_not(None), Case.wake_at <= now, Case.completed.is_(False))
                    .order_by(Case.wake_at)
                    .limit(1)
                )
                if is_postgres(session):
                    query = query.with_for_update(skip_locked=True)
                case = session.scalars(query).first()
                if case is None:
                    break
                step = self._step(session, case, self.compiled_for(session, case), SYSTEM)
                step.workflow.refresh_timers()
                step.run_engine()
                result = step.finish()
                if (
                    result.version
                    and "timer_fired" not in result.events
                    and case.wake_at
                    and case.wake_at <= now
                ):
                    # The timer did not fire although due (e.g. its task was cancelled): do not spin on it.
                    case.wake_at = None
            send_signals(self, result)
            fired += 1
        return fired

    # -- reading -----------------------------------------------------------------------------

    def _case(self, session: Session, code: str) -> Case:
        case = session.scalars(select(Case).where(Case.code == code)).first()
        if case is None:
            raise NotFound(f"case {code!r} does not exist")
        return case

    def verify_history(self, case_code: str) -> HistoryVerdict:
        with self._transaction() as session:
            return verify_history(session, self._case(session, case_code).id)

    def case_data(self, case_code: str) -> dict[str, Any]:
        """The case's current workflow data (for read-only views; never written back)."""
        with self._transaction() as session:
            case = self._case(session, case_code)
            compiled = self.compiled_for(session, case)
            workflow = self.serializer.load(case.state, compiled.spec, compiled.subprocess_specs, None)
            data: dict[str, Any] = {}
            for task in sorted(workflow.get_tasks(), key=lambda t: t.last_state_change):
                data.update(task.data)
            return data

    def applicant_contact(self, case_id: int) -> dict[str, str]:
        """How to reach the applicant (or the feedback's sender) now: name, e-mail and phone as
        the case data holds them at send time. Notification adapters call this instead of the
        outbox carrying contacts, so contacts never sit in outbox rows or reach portals and
        webhooks; the ID number is never part of it."""
        with self._transaction() as session:
            case = session.get(Case, case_id)
            if case is None:
                raise NotFound(f"case #{case_id} does not exist")
            code = case.code
        data = self.case_data(code)
        person = data.get("applicant") or data.get("sender") or {}
        if not isinstance(person, dict):
            return {}
        return {
            k: str(person[k]).strip() for k in ("name", "email", "phone") if str(person.get(k) or "").strip()
        }

    def element_states(self, case_code: str) -> dict[str, list[str]]:
        """BPMN element ids of the case's diagram by state, read from the workflow itself:
        `current` (tasks ready or running, events waited for) and `completed`. For one case page;
        inboxes use the task projection instead."""
        with self._transaction() as session:
            case = self._case(session, case_code)
            compiled = self.compiled_for(session, case)
            workflow = self.serializer.load(case.state, compiled.spec, compiled.subprocess_specs, None)
        current: list[str] = []
        completed: list[str] = []
        active = TaskState.READY | TaskState.WAITING | TaskState.STARTED
        tasks = sorted(
            workflow.get_tasks(state=active | TaskState.COMPLETED), key=lambda t: t.last_state_change
        )
        for task in tasks:
            spec = task.task_spec
            if spec.name not in compiled.nodes:  # SpiffWorkflow's own bookkeeping specs
                continue
            if task.state != TaskState.COMPLETED and isinstance(spec, EventBasedGateway):
                # The gateway waits for whichever of its events comes first: show the events.
                elements = [output.name for output in spec.outputs]
            else:
                elements = [spec.name]
            target = completed if task.state == TaskState.COMPLETED else current
            target.extend(e for e in elements if e not in target)
        # An element done before and open again (a task sent back) is in both lists.
        return {"current": current, "completed": completed}

    def open_tasks(self, case_code: str) -> list[HumanTask]:
        with self._transaction() as session:
            case = self._case(session, case_code)
            return list(
                session.scalars(
                    select(HumanTask)
                    .options(selectinload(HumanTask.case))
                    .where(HumanTask.case_id == case.id, HumanTask.status == "open")
                    .order_by(HumanTask.id)
                )
            )

    def inbox(self, actor: Actor, limit: int = 50, offset: int = 0) -> list[HumanTask]:
        """Tasks the actor can act on: assigned to them, or unclaimed for their roles and agencies."""
        with self._transaction() as session:
            query = (
                select(HumanTask)
                .options(selectinload(HumanTask.case))
                .where(HumanTask.status == "open")
                .where(
                    (HumanTask.assignee == actor.username)
                    | (
                        HumanTask.assignee.is_(None)
                        & HumanTask.role.in_(actor.roles)
                        & HumanTask.agency_id.in_(actor.agency_ids)
                    )
                )
                .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
                .limit(limit)
                .offset(offset)
            )
            return list(session.scalars(query))

    def actor_for(self, username: str) -> Actor:
        with self._transaction() as session:
            staff = session.scalars(select(Staff).where(Staff.username == username, Staff.active)).first()
            if staff is None:
                raise NotFound(f"staff member {username!r} does not exist")
            return Actor(
                staff.username,
                frozenset(staff.roles),
                frozenset({staff.agency_id}),
                subtree_ids(session, staff.agency_id),
            )


def _check_leader_or(row: HumanTask, actor: Actor, otherwise: Any) -> None:
    """Leaders of the task's agency may release and assign its tasks whatever the role."""
    if actor.is_system or ("leader" in actor.roles and row.agency_id in actor.agency_ids):
        return
    otherwise()


def _refuse(message: str) -> None:
    raise PermissionDenied(message)


def _agency_facts(receiving: Agency, resolving: Agency) -> dict[str, Any]:
    """Agency codes and electronic identifiers portals key their records on; fixed at reception
    so no message has to look them up."""
    return {
        "receiving_agency": {"code": receiving.code, "electronic_id": receiving.electronic_id},
        "resolving_agency": {"code": resolving.code, "electronic_id": resolving.electronic_id},
    }


def _components(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Components received with a dossier: a name, how many sets, and whether each was digitised
    at reception or reused from the citizen's data store (both are national indicators)."""
    out = []
    for index, item in enumerate(items):
        name = str(item.get("name", "")).strip() if isinstance(item, dict) else ""
        if not name:
            raise InvalidAction(f"components[{index}].name is required")
        out.append(
            {
                "name": name,
                "copies": int(item.get("copies", 1)),
                "digitised": bool(item.get("digitised", False)),
                "reused": bool(item.get("reused", False)),
            }
        )
    return out


def _claim(row: HumanTask, actor: Actor) -> dict[str, Any]:
    if row.assignee and row.assignee != actor.username:
        raise CaseConflict(f"task {row.id} is already claimed by {row.assignee}")
    row.assignee = actor.username
    return {"assignee": actor.username}

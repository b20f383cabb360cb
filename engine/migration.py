"""Moving running cases from one version of their process to a newer one (chuyển hồ sơ đang xử lý
sang phiên bản quy trình mới).

The rule: a case can move when none of its completed, running, open or waiting tasks sits on an
element that the new version changed or removed. Anything still ahead of the case may differ:
that is the point of moving. Elements are matched by BPMN id with SpiffWorkflow's own spec diff
(`SpiffWorkflow.bpmn.util.diff`); the order of a gateway's flows (which follows the diagram's
layout) does not count as a change.

A move is one case step: the new state, the new definition, the task projection refreshed, the
next timer recomputed and a `case_migrated` event in the case history, under the case's
optimistic lock. A case that cannot move (or was changed meanwhile) stays on its version
untouched. Every run ends with one `cases_migrated` record in the process log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from .actors import Actor
from .definitions import CompiledProcess
from .errors import CaseConflict, InvalidAction, NotFound
from .models import Case, ProcessDefinition
from .process_log import CASES_MIGRATED, record_event
from .runtime import conflict_guard, send_signals
from .versions import compiled_version, definition_identity, require_designer, require_process_reader

if TYPE_CHECKING:
    from .motcua import Motcua

# Task states that mean the case has been, or now is, at that element.
REACHED = TaskState.COMPLETED | TaskState.STARTED | TaskState.READY | TaskState.WAITING | TaskState.ERROR
_STATE_PHRASES = {
    TaskState.COMPLETED: "was completed",
    TaskState.STARTED: "is running",
    TaskState.READY: "is open",
    TaskState.WAITING: "is waiting",
    TaskState.ERROR: "failed",
    TaskState.FUTURE: "is next in line",
    TaskState.CANCELLED: "was cancelled",
}
# SpiffWorkflow's names for what changed in a task spec, in a designer's words.
_CHANGE_WORDS = {
    "bpmn_name": "name",
    "extensions": "properties",
    "outputs": "outgoing flows",
    "inputs": "incoming flows",
    "cond_task_specs": "conditions",
    "default_task_spec": "default flow",
    "event_definition": "event",
    "typename": "type",
    "lane": "lane",
    "script": "script",
    "documentation": "documentation",
}
# Lists whose order comes from the diagram's layout (SpiffWorkflow sorts flows by y position).
_UNORDERED = ("inputs", "outputs", "cond_task_specs")


@dataclass(frozen=True)
class MigrationCheck:
    case_code: str
    can_move: bool
    reasons: list[str]
    current_elements: list[str]
    # The case's lock version when checked: pass it back to migrate_cases (expected_versions) to
    # refuse a case that changed between the check and the move.
    case_version: int = 0


@dataclass
class MigrationReport:
    moved: list[str] = field(default_factory=list)
    refused: dict[str, list[str]] = field(default_factory=dict)


class _Blocked(Exception):
    """The case cannot be carried over; the message says why (a reason shown to the designer)."""


def plan_migration(
    m: Motcua,
    actor: Actor,
    process_id: str,
    from_version: int,
    to_version: int,
    case_codes: list[str] | None = None,
) -> list[MigrationCheck]:
    """Dry run: for every open case of `from_version` (or the given ones), whether it can move to
    `to_version` and, if not, why. Each case is restored and moved in memory only; the session is
    rolled back, so nothing is written. A read: auditors may run it too."""
    require_process_reader(actor)
    checks = []
    with _read_only(m) as session:
        run = _Run.prepare(m, session, process_id, from_version, to_version)
        for case in run.cases(session, case_codes):
            step = m._step(session, case, run.source, actor)
            current = current_elements(step.workflow, run.source)
            reasons = run.blockers(step.workflow)
            if not reasons:
                try:
                    run.move(m, step.workflow)
                except _Blocked as err:
                    reasons = [str(err)]
            checks.append(MigrationCheck(case.code, not reasons, reasons, current, case.version))
    return checks


def migrate_cases(
    m: Motcua,
    actor: Actor,
    process_id: str,
    from_version: int,
    to_version: int,
    case_codes: list[str],
    note: str = "",
    expected_versions: dict[str, int] | None = None,
) -> MigrationReport:
    """Move the given open cases of `from_version` to `to_version`, each in its own transaction
    and re-checked there; the ones that cannot move are refused with reasons and keep running
    on their version. `expected_versions` (case code -> MigrationCheck.case_version) refuses a
    case that changed since it was checked."""
    require_designer(actor)
    codes = list(dict.fromkeys(case_codes))
    if not codes:
        raise InvalidAction("no cases given to migrate")
    with _read_only(m) as session:
        run = _Run.prepare(m, session, process_id, from_version, to_version)
        run.cases(session, codes)  # every code must be an open case of from_version
    report = MigrationReport()
    for code in codes:
        expected = (expected_versions or {}).get(code)
        reasons = _migrate_one(m, actor, run, code, note, expected)
        if reasons:
            report.refused[code] = reasons
        else:
            report.moved.append(code)
    record_event(
        m,
        process_id,
        CASES_MIGRATED,
        actor.username,
        {
            "from_version": from_version,
            "to_version": to_version,
            "moved": report.moved,
            "refused": report.refused,
            "note": note,
        },
    )
    return report


def current_elements(workflow: BpmnWorkflow, compiled: CompiledProcess) -> list[str]:
    """Elements the case is at now (open tasks, awaited events, running sub-processes)."""
    found: list[str] = []
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
        if task.task_spec.name in compiled.nodes and task.task_spec.name not in found:
            found.append(task.task_spec.name)
    return found


# -- one run: two versions and what changed between them -----------------------------------


class _Run:
    """The two versions of one migration and the spec diffs between them, computed once and
    shared by every case (cached specs are the same objects for all cases of a version)."""

    def __init__(
        self,
        m: Motcua,
        source_row: ProcessDefinition,
        target_row: ProcessDefinition,
        source: CompiledProcess,
        target: CompiledProcess,
    ):
        # Plain values, not the rows: the run outlives the session that read them.
        self.process_id = source_row.process_id
        self.from_version, self.to_version = source_row.version, target_row.version
        self.source_id, self.target_id = source_row.id, target_row.id
        self.source, self.target = source, target
        registry = m.serializer.registry
        self._registry = registry
        self.top = SpecDiff(registry, source.spec, target.spec)
        self.subs: dict[str, SpecDiff | None] = {
            name: SpecDiff(registry, spec, target.subprocess_specs[name])
            if name in target.subprocess_specs
            else None
            for name, spec in source.subprocess_specs.items()
        }
        self.changes: dict[Any, list[str]] = {}
        for diff in [self.top, *self.subs.values()]:
            if diff is not None:
                self.changes.update(self._real_changes(diff))

    @classmethod
    def prepare(
        cls, m: Motcua, session: Session, process_id: str, from_version: int, to_version: int
    ) -> _Run:
        if to_version <= from_version:
            raise InvalidAction(
                f"cases move to a newer version only: {to_version} is not newer than {from_version}"
            )
        source_row = definition_identity(session, process_id, from_version)
        target_row = definition_identity(session, process_id, to_version)
        return cls(
            m,
            source_row,
            target_row,
            compiled_version(m, session, source_row.id),
            compiled_version(m, session, target_row.id),
        )

    def cases(self, session: Session, codes: list[str] | None) -> list[Case]:
        """Open cases of the source version; given codes must all be such cases."""
        query = select(Case).options(joinedload(Case.procedure)).order_by(Case.code)
        if codes is None:
            return list(
                session.scalars(query.where(Case.definition_id == self.source_id, Case.completed.is_(False)))
            )
        found = {c.code: c for c in session.scalars(query.where(Case.code.in_(codes)))}
        for code in codes:
            case = found.get(code)
            if case is None:
                raise NotFound(f"case {code!r} does not exist")
            if case.definition_id != self.source_id:
                raise InvalidAction(
                    f"case {code} does not run version {self.from_version} of {self.process_id}"
                )
            if case.completed:
                raise InvalidAction(f"case {code} is completed; only open cases move")
        return [found[code] for code in codes]

    def diffs(self, workflow: BpmnWorkflow) -> list[tuple[Any, WorkflowDiff | None, str]]:
        """(workflow or sub-workflow, its diff, its spec name) for the case and each sub-process;
        taken before the move (the diffs are keyed by the old specs)."""
        try:
            out: list[tuple[Any, WorkflowDiff | None, str]] = [
                (workflow, WorkflowDiff(workflow, self.top), workflow.spec.name)
            ]
            for sub in workflow.subprocesses.values():
                spec_diff = self.subs.get(sub.spec.name)
                out.append((sub, WorkflowDiff(sub, spec_diff) if spec_diff else None, sub.spec.name))
        except KeyError as err:  # a task on a spec the diff could not reach from the start event
            raise _Blocked(
                f"element {err.args[0]} of the case cannot be matched with version {self.to_version}"
            ) from err
        return out

    def blockers(self, workflow: BpmnWorkflow) -> list[str]:
        """Why this case cannot move (empty: it can)."""
        reasons: list[str] = []

        def add(reason: str) -> None:
            if reason not in reasons:
                reasons.append(reason)

        version = f"version {self.to_version}"
        try:
            parts = self.diffs(workflow)
        except _Blocked as err:
            return [str(err)]
        for _sub, diff, spec_name in parts:
            if diff is None:
                add(f"sub-process {spec_name} was removed in {version} and the case has been inside it")
                continue
            for task in diff.removed:
                if not task.has_state(TaskState.PREDICTED_MASK):
                    add(f"{_describe(task.task_spec)} {_phrase(task)} and was removed in {version}")
            for task in diff.changed:
                what = self.changes.get(task.task_spec)
                if what and task.has_state(REACHED):
                    add(
                        f"{_describe(task.task_spec)} {_phrase(task)} "
                        f"and was changed in {version} ({what[0]})"
                    )
        for task in workflow.get_tasks(state=TaskState.READY, manual=True):
            lane = task.task_spec.lane or ""
            before, after = self.source.lanes.get(lane), self.target.lanes.get(lane)
            if before is not None and before != after:
                add(
                    f"{_describe(task.task_spec)} is open and its lane {lane!r} "
                    f"works differently in {version}"
                )
        return reasons

    def move(self, m: Motcua, workflow: BpmnWorkflow) -> None:
        """Carry the (already checked) workflow over to the target specs, in memory. Open tasks keep
        their ids; what lies ahead is predicted again from the new diagram."""
        try:
            self._carry_over(workflow)
            # The stored state names elements only; it must load against the new version.
            m.serializer.load(
                m.serializer.dump(workflow), self.target.spec, self.target.subprocess_specs, None
            )
        except _Blocked:
            raise
        except Exception as err:  # noqa: BLE001 - refuse the case rather than store a broken state
            raise _Blocked(
                f"the case's state cannot be carried over to version {self.to_version}: {err}"
            ) from err

    def _carry_over(self, workflow: BpmnWorkflow) -> None:
        parts = self.diffs(workflow)
        for sub, diff, spec_name in parts:
            new_spec = self.target.spec if sub is workflow else self.target.subprocess_specs[spec_name]
            # Only open tasks are reset: a waiting timer keeps its due instant (resetting it would
            # restart "10 working days from now" at the moment of the move).
            migrate_workflow(diff, sub, new_spec, reset_mask=TaskState.READY)
        workflow.subprocess_specs = self.target.subprocess_specs
        for sub, _, spec_name in parts:
            spec = self.target.spec if sub is workflow else self.target.subprocess_specs[spec_name]
            _repredict(sub, spec)
            for task in sub.get_tasks(skip_subprocesses=True):
                if not _current(spec, task):
                    raise _Blocked(
                        f"{_describe(task.task_spec)} {_phrase(task)} and does not exist in "
                        f"version {self.to_version}"
                    )

    def _real_changes(self, diff: SpecDiff) -> dict[Any, list[str]]:
        """Changed specs with what changed in a designer's words; order-only changes dropped."""
        out: dict[Any, list[str]] = {}
        for spec, keys in diff.changed.items():
            new = diff.alignment.get(spec)
            if new is None:
                continue
            old_dict, new_dict = self._registry.convert(spec), self._registry.convert(new)
            words = []
            for key in keys:
                if key in _UNORDERED and _sorted(old_dict.get(key)) == _sorted(new_dict.get(key)):
                    continue
                if key == "lane" and not spec.manual:
                    # Only people's tasks are worked by a lane's role; a modeler also files events,
                    # gateways and sub-processes under lanes by where they are drawn.
                    continue
                if key == "extensions":
                    words.append(_property_change(old_dict.get(key), new_dict.get(key)))
                else:
                    words.append(_CHANGE_WORDS.get(key, key))
            if words:
                out[spec] = [", ".join(words)]
        return out


def _migrate_one(
    m: Motcua, actor: Actor, run: _Run, code: str, note: str, expected_version: int | None
) -> list[str]:
    """Move one case in its own transaction; the reasons it was refused (empty: moved)."""
    try:
        with conflict_guard(code), m._transaction() as session:
            case = session.scalars(
                select(Case).options(joinedload(Case.procedure)).where(Case.code == code)
            ).first()
            if case is None:
                return ["the case no longer exists"]
            if case.completed:
                return ["the case was completed in the meantime"]
            if case.definition_id != run.source_id:
                return [f"the case no longer runs version {run.from_version}"]
            if expected_version is not None and case.version != expected_version:
                return ["the case changed since it was checked; check it again"]
            step = m._step(session, case, run.source, actor)
            reasons = run.blockers(step.workflow)
            if reasons:
                return reasons
            run.move(m, step.workflow)
            case.definition_id = run.target_id
            step.compiled = run.target
            step.event(
                "case_migrated",
                process_id=run.process_id,
                from_version=run.from_version,
                to_version=run.to_version,
                from_definition_id=run.source_id,
                to_definition_id=run.target_id,
                note=note,
            )
            result = step.finish()
    except _Blocked as err:
        return [str(err)]
    except CaseConflict as err:
        return [str(err)]
    send_signals(m, result)
    return []


def _repredict(workflow: Any, spec: Any) -> None:
    """Predicted tasks (possible futures, not yet decided) that point at elements the new version
    no longer has are predicted again from their parent with the new diagram."""
    while True:
        stale = [
            t
            for t in workflow.get_tasks(skip_subprocesses=True, state=TaskState.PREDICTED_MASK)
            if not _current(spec, t)
            and t.parent is not None
            and _current(spec, t.parent)
            and t.parent.has_state(TaskState.PREDICTED_MASK | TaskState.FUTURE)
        ]
        if not stale:
            return
        parent = stale[0].parent
        parent.task_spec._predict(parent, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE)
        if stale[0].id in workflow.tasks:
            return  # could not be predicted away; the caller reports it


def _current(spec: Any, task: Any) -> bool:
    return spec.task_specs.get(task.task_spec.name) is task.task_spec


def _describe(spec: Any) -> str:
    name = spec.name
    if "." in name:  # SpiffWorkflow's own joins and splits around an activity
        return f"the boundary events or end of {name.split('.')[0]}"
    kind = type(spec).__name__
    if isinstance(spec, SubWorkflowTask):
        word = "sub-process"
    elif "Gateway" in kind:
        word = "gateway"
    elif "Event" in kind:
        word = "event"
    elif "Task" in kind:
        word = "task"
    else:
        word = "element"
    label = getattr(spec, "bpmn_name", None)
    return f"{word} {name} ({label})" if label else f"{word} {name}"


def _phrase(task: Any) -> str:
    for state, phrase in _STATE_PHRASES.items():
        if task.state == state:
            return phrase
    return "is predicted"


def _property_change(old: Any, new: Any) -> str:
    """ "properties: budget" for our spiffworkflow:property values; "properties" otherwise."""
    before = (old or {}).get("properties") or {}
    after = (new or {}).get("properties") or {}
    names = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return f"properties: {', '.join(names)}" if names else "properties"


def _sorted(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [] if value is None else [value]
    return sorted(json.dumps(item, sort_keys=True, default=str) for item in items)


@contextmanager
def _read_only(m: Motcua) -> Iterator[Session]:
    """A session whose work is always rolled back: checks never write."""
    _ = m.calendar  # loaded before, as m._transaction does (SQLite would wait on itself)
    session = m.sessions()
    try:
        yield session
    finally:
        session.rollback()
        session.close()

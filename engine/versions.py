"""Process versions as a designer sees them (phiên bản quy trình): which versions exist, how many
open cases each still runs and where in the diagram those cases wait, and what changed between
two versions (or between a draft and its base).

Reading needs the role designer, admin or auditor; designer actions (drafts, deploy, migration)
need designer or admin. The system actor may do both."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent, EventBasedGateway
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, load_only

from .actors import Actor
from .definitions import BPMN_NS, SPIFF_NS, CompiledProcess
from .errors import DefinitionInvalid, NotFound, PermissionDenied
from .models import Case, HumanTask, ProcessDefinition, ProcessDraft
from .statuses import statuses
from .xml_safety import parse_xml

if TYPE_CHECKING:
    from .motcua import Motcua

DESIGN_ROLES = frozenset({"designer", "admin"})
READ_ROLES = DESIGN_ROLES | {"auditor"}
# Case states read per query when counting cases that wait at events (bounded memory).
STATE_BATCH = 200
# Diffs never look at anything bigger than a deployable file.
DIFF_MAX_BYTES = 2 * 1024 * 1024


def require_designer(actor: Actor) -> None:
    if not (actor.is_system or actor.roles & DESIGN_ROLES):
        raise PermissionDenied(f"{actor.username} is not a process designer")


def require_process_reader(actor: Actor) -> None:
    if not (actor.is_system or actor.roles & READ_ROLES):
        raise PermissionDenied(f"{actor.username} may not read process versions")


# -- summaries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessSummary:
    process_id: str
    name: str
    latest_version: int | None  # None: only drafts so far
    version_count: int
    open_cases: int  # not completed, over all versions
    draft_count: int  # drafts not deployed yet


@dataclass(frozen=True)
class VersionSummary:
    version: int
    definition_id: int
    deployed_at: datetime
    deployed_by: str
    note: str
    sha256: str
    open_cases: int
    overdue_cases: int  # open cases late against their appointment (see case_is_late)


@dataclass(frozen=True)
class ElementCount:
    element_id: str
    open: int
    overdue: int


def list_processes(m: Motcua, actor: Actor) -> list[ProcessSummary]:
    require_process_reader(actor)
    with m._transaction() as session:
        versions = {
            pid: (latest, count)
            for pid, latest, count in session.execute(
                select(
                    ProcessDefinition.process_id,
                    func.max(ProcessDefinition.version),
                    func.count(ProcessDefinition.id),
                ).group_by(ProcessDefinition.process_id)
            )
        }
        open_cases = dict(
            session.execute(
                select(ProcessDefinition.process_id, func.count(Case.id))
                .join(Case, Case.definition_id == ProcessDefinition.id)
                .where(Case.completed.is_(False))
                .group_by(ProcessDefinition.process_id)
            ).all()
        )
        drafts = dict(
            session.execute(
                select(ProcessDraft.process_id, func.count(ProcessDraft.id))
                .where(ProcessDraft.deployed_version.is_(None))
                .group_by(ProcessDraft.process_id)
            ).all()
        )
        names = {pid: _process_name(xml) for pid, xml in _latest_xml(session)}
        titles = dict(
            session.execute(
                select(ProcessDraft.process_id, func.max(ProcessDraft.title)).group_by(
                    ProcessDraft.process_id
                )
            ).all()
        )
    summaries = []
    for pid in sorted(set(versions) | set(drafts)):
        latest, count = versions.get(pid, (None, 0))
        summaries.append(
            ProcessSummary(
                process_id=pid,
                name=names.get(pid) or titles.get(pid) or pid,
                latest_version=latest,
                version_count=count,
                open_cases=open_cases.get(pid, 0),
                draft_count=drafts.get(pid, 0),
            )
        )
    return summaries


def list_versions(m: Motcua, actor: Actor, process_id: str) -> list[VersionSummary]:
    """Every deployed version of the process, newest first, with its open and overdue cases."""
    require_process_reader(actor)
    now = m.clock.now()
    with m._transaction() as session:
        definitions = session.scalars(
            select(ProcessDefinition)
            .options(
                load_only(
                    ProcessDefinition.id,
                    ProcessDefinition.version,
                    ProcessDefinition.deployed_at,
                    ProcessDefinition.deployed_by,
                    ProcessDefinition.note,
                    ProcessDefinition.sha256,
                )
            )
            .where(ProcessDefinition.process_id == process_id)
            .order_by(ProcessDefinition.version.desc())
        ).all()
        if not definitions:
            raise NotFound(f"process {process_id!r} is not deployed")
        overdue = func.sum(case((late_clause(now), 1), else_=0))
        counts = {
            definition_id: (int(total), int(late or 0))
            for definition_id, total, late in session.execute(
                select(Case.definition_id, func.count(Case.id), overdue)
                .where(Case.definition_id.in_([d.id for d in definitions]), Case.completed.is_(False))
                .group_by(Case.definition_id)
            )
        }
    return [
        VersionSummary(
            version=d.version,
            definition_id=d.id,
            deployed_at=d.deployed_at,
            deployed_by=d.deployed_by,
            note=d.note,
            sha256=d.sha256,
            open_cases=counts.get(d.id, (0, 0))[0],
            overdue_cases=counts.get(d.id, (0, 0))[1],
        )
        for d in definitions
    ]


def element_counts(m: Motcua, actor: Actor, process_id: str, version: int) -> dict[str, ElementCount]:
    """Where the open cases of one version wait, by BPMN element id: how many cases and how many
    of those are overdue there. A case counts once per element.

    Cases at a user task come from the task projection (one query; overdue: the task's due time
    passed, or, for a task without one, the case is late). Cases waiting at an event (timer,
    message, event-based gateway) are only visible in the workflow state, so the state is read
    and restored once for each open case that has no open user task or has a timer set
    (`wake_at`); overdue there means the case is late. Cost: that second part is one row read
    and one restore (about a millisecond) per such case. Boundary events are watches on an
    activity, not places where a case stands, so they are not counted."""
    require_process_reader(actor)
    now = m.clock.now()
    cases_at: dict[str, set[int]] = defaultdict(set)
    late_at: dict[str, set[int]] = defaultdict(set)
    with m._transaction() as session:
        definition = definition_identity(session, process_id, version)
        rows = session.execute(
            select(
                Case.id,
                Case.wake_at,
                Case.appointment_at,
                Case.finished_at,
                Case.status,
                HumanTask.element_id,
                HumanTask.due_at,
            )
            .outerjoin(HumanTask, and_(HumanTask.case_id == Case.id, HumanTask.status == "open"))
            .where(Case.definition_id == definition.id, Case.completed.is_(False))
        ).all()
        late_cases: set[int] = set()
        open_cases: set[int] = set()
        at_a_task: set[int] = set()
        with_timer: set[int] = set()
        for case_id, wake_at, appointment_at, finished_at, status, element_id, due_at in rows:
            open_cases.add(case_id)
            if case_is_late(appointment_at, finished_at, status, now):
                late_cases.add(case_id)
            if wake_at is not None:
                with_timer.add(case_id)
            if element_id is None:
                continue
            at_a_task.add(case_id)
            cases_at[element_id].add(case_id)
            if (due_at < now) if due_at is not None else case_id in late_cases:
                late_at[element_id].add(case_id)
        to_read = sorted(c for c in open_cases if c not in at_a_task or c in with_timer)
        if to_read:
            compiled = compiled_version(m, session, definition.id)
            for case_id, workflow in _workflows(m, session, compiled, to_read):
                for element_id in waiting_events(workflow, compiled):
                    cases_at[element_id].add(case_id)
                    if case_id in late_cases:
                        late_at[element_id].add(case_id)
    return {
        element_id: ElementCount(element_id, len(cases), len(late_at.get(element_id, ())))
        for element_id, cases in sorted(cases_at.items())
    }


def case_is_late(
    appointment_at: datetime | None, finished_at: datetime | None, status: str, now: datetime
) -> bool:
    """Late (quá hạn): the appointment has passed while the dossier is still being processed and
    its legal clock runs (not paused for a supplement, not finished)."""
    return (
        appointment_at is not None
        and appointment_at < now
        and finished_at is None
        and status not in _paused_statuses()
    )


def late_clause(now: datetime) -> Any:
    """case_is_late as SQL, for counting."""
    return and_(
        Case.appointment_at.is_not(None),
        Case.appointment_at < now,
        Case.finished_at.is_(None),
        Case.status.not_in(sorted(_paused_statuses())),
    )


@cache
def _paused_statuses() -> frozenset[str]:
    return frozenset(key for (_, key), status in statuses().items() if status.pauses_clock)


def waiting_events(workflow: BpmnWorkflow, compiled: CompiledProcess) -> list[str]:
    """Elements where the case stands waiting for an event: intermediate catch events (timer,
    message) and event-based gateways; boundary events are left out (see element_counts)."""
    found: list[str] = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        spec = task.task_spec
        if spec.name not in compiled.nodes or isinstance(spec, BoundaryEvent):
            continue
        if isinstance(spec, CatchingEvent | EventBasedGateway) and spec.name not in found:
            found.append(spec.name)
    return found


# -- one version ----------------------------------------------------------------------------


def definition_for(m: Motcua, process_id: str, version: int) -> ProcessDefinition:
    """The full stored version (XML, forms, decisions)."""
    with m._transaction() as session:
        definition = session.scalars(
            select(ProcessDefinition).where(
                ProcessDefinition.process_id == process_id, ProcessDefinition.version == version
            )
        ).first()
        if definition is None:
            raise NotFound(f"process {process_id!r} has no version {version}")
        return definition


def version_xml(m: Motcua, actor: Actor, process_id: str, version: int) -> str:
    require_process_reader(actor)
    return definition_for(m, process_id, version).bpmn_xml


def compiled_version(m: Motcua, session: Session, definition_id: int) -> CompiledProcess:
    """The parsed process of a version from the shared spec cache (read from the row on a miss)."""
    from .runtime import definition_loader

    return m.specs.get(
        definition_id, lambda: definition_loader(session.get(ProcessDefinition, definition_id))()
    )


# -- diff -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ElementChange:
    element_id: str
    type: str  # BPMN local name: userTask, sequenceFlow, lane... (decision for DMN decisions)
    name: str
    details: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class VersionDiff:
    added: list[ElementChange]
    removed: list[ElementChange]
    changed: list[ElementChange]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def change_for(self, element_id: str) -> ElementChange | None:
        return next((c for c in self.changed if c.element_id == element_id), None)


def diff_versions(m: Motcua, actor: Actor, process_id: str, a: int, b: int) -> VersionDiff:
    """What version `b` changes compared with version `a`."""
    require_process_reader(actor)
    first, second = definition_for(m, process_id, a), definition_for(m, process_id, b)
    return diff_definitions(
        first.bpmn_xml, second.bpmn_xml, first.forms, second.forms, first.dmn_files, second.dmn_files
    )


def diff_definitions(
    xml_a: str | bytes,
    xml_b: str | bytes,
    forms_a: dict[str, Any],
    forms_b: dict[str, Any],
    dmn_a: dict[str, Any] | None = None,
    dmn_b: dict[str, Any] | None = None,
) -> VersionDiff:
    """Compare two process definitions element by element (by BPMN id). Diagram layout (DI) is
    not compared, and neither is the order of flows or attributes: moving shapes reports nothing.
    A changed form schema marks every user task that uses it as changed, a changed DMN decision
    every business-rule task that calls it. DefinitionInvalid when a side is not readable XML."""
    root_a, root_b = _parse(xml_a, "a.bpmn"), _parse(xml_b, "b.bpmn")
    elements_a = _elements(root_a)
    elements_b = _elements(root_b)
    _mark_dependencies(elements_a, elements_b, _changed_keys(forms_a, forms_b), "form")
    decisions_a, decisions_b = _decisions(dmn_a or {}), _decisions(dmn_b or {})
    elements_a.update(decisions_a)
    elements_b.update(decisions_b)
    changed_decisions = {
        k for k in decisions_a.keys() & decisions_b.keys() if decisions_a[k].facts != decisions_b[k].facts
    }
    _mark_dependencies(elements_a, elements_b, changed_decisions, "calledDecisionId", "decision")
    added = [_summary(elements_b[k]) for k in sorted(elements_b.keys() - elements_a.keys())]
    removed = [_summary(elements_a[k]) for k in sorted(elements_a.keys() - elements_b.keys())]
    changed = []
    for key in sorted(elements_a.keys() & elements_b.keys()):
        details = _details(elements_a[key], elements_b[key])
        if details:
            changed.append(ElementChange(key, elements_b[key].type, elements_b[key].name, details))
    return VersionDiff(added, removed, changed)


# Elements a designer reasons about; event definitions, conditions and scripts are facts of
# their owner, DI is layout.
FLOW_NODES = frozenset(
    {
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "task",
        "userTask",
        "manualTask",
        "scriptTask",
        "businessRuleTask",
        "serviceTask",
        "sendTask",
        "receiveTask",
        "callActivity",
        "subProcess",
        "transaction",
        "adHocSubProcess",
        "exclusiveGateway",
        "parallelGateway",
        "inclusiveGateway",
        "eventBasedGateway",
        "complexGateway",
        "dataObject",
        "dataObjectReference",
        "dataStoreReference",
    }
)
TRACKED = FLOW_NODES | {"process", "participant", "lane", "sequenceFlow", "messageFlow", "message"}
# Facts shown first, in this order; the rest alphabetically.
_FACT_ORDER = ("type", "name", "parent", "lane", "incoming", "outgoing")
_LONG = 80


@dataclass
class _Element:
    element_id: str
    type: str
    name: str
    facts: dict[str, str]
    # Extra reasons it changed although its own facts did not (a form or decision it uses).
    notes: list[str] = field(default_factory=list)


def _parse(content: str | bytes, filename: str) -> etree._Element:
    data = content.encode("utf-8") if isinstance(content, str) else content
    root, problems = parse_xml(data, filename, DIFF_MAX_BYTES)
    if root is None:
        raise DefinitionInvalid(problems)
    return root


def _elements(root: etree._Element) -> dict[str, _Element]:
    nodes = [el for el in root.iter(f"{{{BPMN_NS}}}*") if _local(el) in TRACKED and el.get("id")]
    flows = [el for el in nodes if _local(el) == "sequenceFlow"]
    incoming: dict[str, list[str]] = defaultdict(list)
    outgoing: dict[str, list[str]] = defaultdict(list)
    for flow in flows:
        outgoing[flow.get("sourceRef", "")].append(flow.get("id"))
        incoming[flow.get("targetRef", "")].append(flow.get("id"))
    lanes: dict[str, list[str]] = defaultdict(list)
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.findall(f"{{{BPMN_NS}}}flowNodeRef"):
            lanes[(ref.text or "").strip()].append(lane.get("id") or "")
    out: dict[str, _Element] = {}
    for el in nodes:
        element_id = el.get("id")
        kind = _local(el)
        facts = _facts(el)
        facts["type"] = kind
        if kind in FLOW_NODES:
            facts["parent"] = _container(el)
            facts["incoming"] = ", ".join(sorted(incoming.get(element_id, [])))
            facts["outgoing"] = ", ".join(sorted(outgoing.get(element_id, [])))
            facts["lane"] = ", ".join(sorted(lanes.get(element_id, [])))
        out[element_id] = _Element(element_id, kind, el.get("name") or "", facts)
    return out


def _facts(el: etree._Element) -> dict[str, str]:
    """What the engine executes of one element, as comparable text (never its DI)."""
    facts: dict[str, str] = {"name": el.get("name") or ""}
    for key, value in el.attrib.items():
        local = etree.QName(key).localname
        if local not in ("id", "name"):
            facts[local] = value
    for child in el:
        if not isinstance(child.tag, str):
            continue
        local = _local(child)
        if local == "extensionElements":
            facts.update(_extensions(child))
        elif local == "documentation":
            facts["documentation"] = _text(child)
        elif local == "script":
            facts["script"] = _text(child)
        elif local == "conditionExpression":
            facts["condition"] = _text(child)
        elif local.endswith("EventDefinition"):
            facts.update(_event_definition(child))
    return facts


def _extensions(ext: etree._Element) -> dict[str, str]:
    facts: dict[str, str] = {}
    for child in ext:
        if not isinstance(child.tag, str) or etree.QName(child).namespace != SPIFF_NS:
            continue
        local = _local(child)
        if local == "properties":
            for prop in child.iterfind(f"{{{SPIFF_NS}}}property"):
                if prop.get("name"):
                    facts[prop.get("name")] = prop.get("value", "")
        else:
            facts[local] = _text(child)
    return facts


def _event_definition(definition: etree._Element) -> dict[str, str]:
    kind = _local(definition).removesuffix("EventDefinition")
    facts = {"event": kind}
    if definition.get("messageRef"):
        facts["event"] = f"{kind} {definition.get('messageRef')}"
    for child in definition:
        if not isinstance(child.tag, str):
            continue
        local = _local(child)
        if local in ("timeDate", "timeDuration", "timeCycle"):
            facts["timer"] = f"{local} {_text(child)}"
        elif local == "extensionElements":
            facts.update(_extensions(child))
    return facts


def _container(el: etree._Element) -> str:
    parent = el.getparent()
    while parent is not None and _local(parent) not in ("process", "subProcess", "transaction"):
        parent = parent.getparent()
    return parent.get("id", "") if parent is not None else ""


def _decisions(dmn: dict[str, Any]) -> dict[str, _Element]:
    out: dict[str, _Element] = {}
    for name in sorted(dmn):
        content = dmn[name]
        data = content.encode("utf-8") if isinstance(content, str) else content
        root, _ = parse_xml(data, name, DIFF_MAX_BYTES)
        if root is None:
            continue
        for el in root.iter():
            if isinstance(el.tag, str) and _local(el) == "decision" and el.get("id"):
                digest = hashlib.sha256(_without_formatting(el)).hexdigest()[:12]
                facts = {"name": el.get("name") or "", "type": "decision", "table": digest, "file": name}
                out[el.get("id")] = _Element(el.get("id"), "decision", el.get("name") or "", facts)
    return out


def _without_formatting(el: etree._Element) -> bytes:
    """The element as canonical XML with surrounding whitespace of texts dropped: re-indenting a
    decision table is not a change, and DMN cells are expressions, blind to outer spaces."""
    copy = etree.fromstring(etree.tostring(el))
    for node in copy.iter():
        node.text = node.text.strip() if node.text else node.text
        node.tail = node.tail.strip() if node.tail else node.tail
    return etree.tostring(copy, method="c14n")


def _mark_dependencies(
    elements_a: dict[str, _Element],
    elements_b: dict[str, _Element],
    changed: set[str],
    fact: str,
    label: str | None = None,
) -> None:
    """Note on each element of `b` that uses a changed form/decision that it changed, unless it
    switched to another one (that shows as its own fact change)."""
    for key, element in elements_b.items():
        used = element.facts.get(fact)
        before = elements_a.get(key)
        if used in changed and before is not None and before.facts.get(fact) == used:
            element.notes.append(f"{label or fact} {used} changed")


def _changed_keys(a: dict[str, Any], b: dict[str, Any]) -> set[str]:
    return {k for k in a.keys() & b.keys() if _canonical(a[k]) != _canonical(b[k])}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _details(a: _Element, b: _Element) -> list[str]:
    keys = a.facts.keys() | b.facts.keys()
    ordered = [k for k in _FACT_ORDER if k in keys] + sorted(keys - set(_FACT_ORDER))
    details = []
    for key in ordered:
        before, after = a.facts.get(key), b.facts.get(key)
        if (before or "") == (after or ""):
            continue
        if key in ("incoming", "outgoing", "lane"):
            details.append(f"{key}: {_set_change(before, after)}")
        elif len(before or "") > _LONG or len(after or "") > _LONG or "\n" in f"{before}{after}":
            details.append(f"{key} changed")
        elif key == "table":
            details.append("decision table changed")
        else:
            details.append(f"{key}: {before or '(none)'} → {after or '(none)'}")
    return details + b.notes


def _set_change(before: str | None, after: str | None) -> str:
    old = set(filter(None, (before or "").split(", ")))
    new = set(filter(None, (after or "").split(", ")))
    return ", ".join([f"+{x}" for x in sorted(new - old)] + [f"-{x}" for x in sorted(old - new)])


def _summary(element: _Element) -> ElementChange:
    return ElementChange(element.element_id, element.type, element.name, [])


def _text(el: etree._Element) -> str:
    """Element text with trailing spaces and surrounding blank lines dropped (indentation kept:
    scripts are Python)."""
    lines = [line.rstrip() for line in (el.text or "").splitlines()]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


# -- helpers --------------------------------------------------------------------------------


def definition_identity(session: Session, process_id: str, version: int) -> ProcessDefinition:
    definition = session.scalars(
        select(ProcessDefinition)
        .options(load_only(ProcessDefinition.id, ProcessDefinition.process_id, ProcessDefinition.version))
        .where(ProcessDefinition.process_id == process_id, ProcessDefinition.version == version)
    ).first()
    if definition is None:
        raise NotFound(f"process {process_id!r} has no version {version}")
    return definition


def _latest_xml(session: Session) -> Iterable[tuple[str, str]]:
    latest = (
        select(ProcessDefinition.process_id, func.max(ProcessDefinition.version).label("version"))
        .group_by(ProcessDefinition.process_id)
        .subquery()
    )
    return session.execute(
        select(ProcessDefinition.process_id, ProcessDefinition.bpmn_xml).join(
            latest,
            and_(
                ProcessDefinition.process_id == latest.c.process_id,
                ProcessDefinition.version == latest.c.version,
            ),
        )
    ).all()


def _process_name(xml: str) -> str:
    root, _ = parse_xml(xml.encode("utf-8"), "process.bpmn", DIFF_MAX_BYTES)
    if root is None:
        return ""
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("isExecutable") == "true":
            return process.get("name") or ""
    return ""


def _workflows(
    m: Motcua, session: Session, compiled: CompiledProcess, case_ids: list[int]
) -> Iterator[tuple[int, BpmnWorkflow]]:
    for start in range(0, len(case_ids), STATE_BATCH):
        batch = case_ids[start : start + STATE_BATCH]
        for case_id, state in session.execute(select(Case.id, Case.state).where(Case.id.in_(batch))):
            yield case_id, m.serializer.load(state, compiled.spec, compiled.subprocess_specs, None)

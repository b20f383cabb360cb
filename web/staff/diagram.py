"""The process diagram of the staff case page: the BPMN XML of the version a case runs on, and
which of its elements are current and which completed.

No workflow is deserialized. What is current comes from the human-task projection (open tasks)
and from the history replayed over the diagram's structure: a catch event is waiting once a
node that leads to it for certain has completed (no undecided gateway in between) and until it
fires, its event-based alternative fires or its scope is cancelled; a boundary event waits while
the activity it is attached to is active. `Case.wake_at` is the engine's own word on timers:
without it, no timer is waiting."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from sqlalchemy import select

from engine.caseview import CaseFile
from engine.db import transaction
from engine.errors import NotFound
from engine.models import CaseEvent, ProcessDefinition
from engine.motcua import Motcua
from engine.xml_safety import safe_parser

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SCOPES = frozenset({"subProcess", "transaction", "adHocSubProcess"})
FLOW_NODES = SCOPES | {
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
    "exclusiveGateway",
    "inclusiveGateway",
    "complexGateway",
    "parallelGateway",
    "eventBasedGateway",
}
# Where the history walk stops: work done by people (the projection knows it) or elsewhere.
WAITING_ACTIVITIES = frozenset({"userTask", "manualTask", "receiveTask", "callActivity"})
CHOICES = frozenset({"exclusiveGateway", "inclusiveGateway", "complexGateway"})


def definition_xml(m: Motcua, definition_id: int) -> str:
    """The BPMN XML of one deployed process version (versions are immutable)."""
    with transaction(m.sessions) as session:
        xml = session.scalar(select(ProcessDefinition.bpmn_xml).where(ProcessDefinition.id == definition_id))
    if xml is None:
        raise NotFound(f"process definition {definition_id} does not exist")
    return xml


def diagram_state(file: CaseFile, xml: str) -> dict[str, Any]:
    """`{"current": [...], "completed": [...], "status": ...}` for the case page's diagram.

    `completed` lists every element the history shows completed, in the order it first did
    (task completions, status changes, timers fired, the catch events messages were delivered
    to); an element done before and open again (a task sent back) is in both lists."""
    replay = Replay(Structure.parse(xml))
    for event in file.events:
        replay.apply(event)
    case = file.case
    current: list[str] = []
    if not case.completed:
        current = _unique(t.element_id for t in file.open_tasks)
        waiting = replay.waiting_events(current)
        if case.wake_at is None:  # the engine has no timer to fire for this case
            waiting = [e for e in waiting if not replay.structure.is_timer_only(e)]
        current += [e for e in waiting if e not in current]
    return {"current": current, "completed": replay.completed, "status": case.status}


@dataclass
class Node:
    id: str
    kind: str  # the BPMN element's local name: userTask, boundaryEvent, ...
    scope: str | None  # the enclosing sub-process, None at process level
    outgoing: list[tuple[str, bool]] = field(default_factory=list)  # (target, conditional)
    incoming: int = 0
    attached_to: str | None = None
    interrupting: bool = True
    messages: set[str] = field(default_factory=set)  # names of the messages it catches
    timer: bool = False
    terminate: bool = False


@dataclass
class Structure:
    """What the replay needs of a diagram: nodes, flows, scopes and boundary events."""

    nodes: dict[str, Node]
    starts: dict[str, list[str]]  # scope -> its plain start events
    boundaries: dict[str, list[str]]  # activity -> boundary events attached to it
    gateways: dict[str, str]  # catch event -> the event-based gateway it is an alternative of

    @classmethod
    def parse(cls, xml: str) -> Structure:
        root = etree.fromstring(xml.encode("utf-8"), safe_parser())
        messages = {m.get("id"): m.get("name") or m.get("id") for m in root.iter(f"{{{BPMN}}}message")}
        nodes: dict[str, Node] = {}
        for el in root.iter(f"{{{BPMN}}}*"):
            kind = etree.QName(el).localname
            if kind not in FLOW_NODES or not el.get("id"):
                continue
            node = Node(el.get("id"), kind, _scope_of(el))
            node.attached_to = el.get("attachedToRef")
            node.interrupting = el.get("cancelActivity", "true") != "false"
            for definition in el.iterchildren(f"{{{BPMN}}}*"):
                name = etree.QName(definition).localname
                if name == "messageEventDefinition":
                    ref = definition.get("messageRef")
                    node.messages.add(messages.get(ref, ref or ""))
                node.timer |= name == "timerEventDefinition"
                node.terminate |= name == "terminateEventDefinition"
            nodes[node.id] = node
        defaults = {el.get("default") for el in root.iter(f"{{{BPMN}}}*") if el.get("default")}
        for flow in root.iter(f"{{{BPMN}}}sequenceFlow"):
            source, target = nodes.get(flow.get("sourceRef", "")), nodes.get(flow.get("targetRef", ""))
            if source is None or target is None:
                continue
            # A default flow is taken only when no condition holds: as uncertain as a condition.
            conditional = (
                flow.find(f"{{{BPMN}}}conditionExpression") is not None or flow.get("id") in defaults
            )
            source.outgoing.append((target.id, conditional))
            target.incoming += 1
        starts: dict[str, list[str]] = {}
        boundaries: dict[str, list[str]] = {}
        gateways: dict[str, str] = {}
        for node in nodes.values():
            if node.kind == "startEvent" and node.scope and not node.messages and not node.timer:
                starts.setdefault(node.scope, []).append(node.id)
            if node.kind == "boundaryEvent" and node.attached_to:
                boundaries.setdefault(node.attached_to, []).append(node.id)
            if node.kind == "eventBasedGateway":
                gateways.update((target, node.id) for target, _ in node.outgoing)
        return cls(nodes, starts, boundaries, gateways)

    def alternatives(self, gateway: str) -> list[str]:
        return [target for target, _ in self.nodes[gateway].outgoing]

    def lineage(self, node_id: str) -> list[str]:
        """The node and the sub-processes around it, innermost first."""
        out = []
        current: str | None = node_id
        while current is not None and current not in out:
            out.append(current)
            node = self.nodes.get(current)
            current = node.scope if node else None
        return out

    def is_timer_only(self, node_id: str) -> bool:
        node = self.nodes.get(node_id)
        return node is not None and node.timer and not node.messages


class Replay:
    """The case's history applied, in order, to the diagram."""

    def __init__(self, structure: Structure):
        self.structure = structure
        self.completed: list[str] = []
        self.open: dict[str, str] = {}  # spiff task id -> element id of open human tasks
        self.armed: set[str] = set()  # intermediate catch events reached and not yet passed
        self.fired: set[str] = set()  # timer boundary events fired while their activity runs on
        self._step_at: Any = None

    def apply(self, event: CaseEvent) -> None:
        if event.at != self._step_at:  # the events of one step share their instant
            self._forget_fired(self.open.values())
            self._step_at = event.at
        kind, element = event.type, event.element_id
        if kind == "task_created" and event.task_id and element:
            self.open[event.task_id] = element
        elif kind in ("task_completed", "task_cancelled") and event.task_id:
            self.open.pop(event.task_id, None)
            if kind == "task_completed" and element:
                self._done(element)
        elif kind == "status_changed" and element:
            self._done(element)
        elif kind == "timer_fired" and element:
            self._timer_fired(element)
        elif kind == "message_received":
            for target in self._message_targets(str((event.data or {}).get("name", ""))):
                self._done(target)
        elif kind == "case_finished":
            self.open.clear()
            self.armed.clear()
            self.fired.clear()

    def waiting_events(self, open_elements: Iterable[str]) -> list[str]:
        """Armed catch events and the boundary events of every active activity."""
        open_elements = list(open_elements)
        self._forget_fired(open_elements)
        waiting = set(self.armed)
        for activity in self._active(open_elements):
            waiting.update(b for b in self.structure.boundaries.get(activity, ()) if b not in self.fired)
        return sorted(waiting)

    # -- replay ---------------------------------------------------------------------------------

    def _timer_fired(self, element: str) -> None:
        """The engine names the event-based gateway when one of its timers fires: the timer
        event is marked too when the gateway has only one."""
        nodes = self.structure.nodes
        node = nodes.get(element)
        if node is None or node.kind != "eventBasedGateway":
            self._done(element)
            return
        timers = [t for t in self.structure.alternatives(element) if nodes[t].timer]
        self._done(timers[0] if len(timers) == 1 else element)

    def _done(self, element: str) -> None:
        structure = self.structure
        gateway = structure.gateways.get(element)
        for passed in (gateway, element):
            if passed is not None and passed not in self.completed:
                self.completed.append(passed)
        node = structure.nodes.get(element)
        if node is None:
            return
        self.armed.discard(element)
        if gateway is not None:
            self.armed.difference_update(structure.alternatives(gateway))
        if node.kind == "eventBasedGateway":
            self.armed.difference_update(structure.alternatives(element))
        if node.kind == "boundaryEvent" and node.attached_to:
            if node.interrupting:
                self._cancel(node.attached_to)
            elif node.timer:
                self.fired.add(element)
        self._advance(element)

    def _message_targets(self, name: str) -> list[str]:
        """The catch events a message was delivered to: an armed intermediate event, else the
        boundary events of an active activity that wait for it."""
        nodes = self.structure.nodes
        armed = sorted(e for e in self.armed if name in nodes[e].messages)
        if armed:
            return armed
        return [
            b
            for activity in self._active(self.open.values())
            for b in self.structure.boundaries.get(activity, ())
            if name in nodes[b].messages
        ]

    def _advance(self, element: str) -> None:
        """Arm the catch events the process certainly reaches from `element` without waiting
        for people or taking an undecided branch."""
        nodes = self.structure.nodes
        stack, seen = self._next(element), set()
        while stack:
            node_id = stack.pop()
            node = nodes.get(node_id)
            if node is None or node_id in seen:
                continue
            seen.add(node_id)
            if node.kind == "intermediateCatchEvent":
                self.armed.add(node_id)
            elif node.kind == "eventBasedGateway":
                self.armed.update(t for t, _ in node.outgoing if nodes[t].kind == "intermediateCatchEvent")
            elif node.kind in SCOPES:
                stack.extend(self.structure.starts.get(node_id, ()))
            elif node.kind in WAITING_ACTIVITIES or (node.kind == "parallelGateway" and node.incoming > 1):
                continue  # people's work, or a join that may still wait for its other branches
            else:
                stack.extend(self._next(node_id))

    def _next(self, node_id: str) -> list[str]:
        node = self.structure.nodes[node_id]
        if node.kind == "endEvent":
            if node.scope is None:
                return []
            if node.terminate:
                self._cancel(node.scope)
            elif self._busy(node.scope):
                return []  # the sub-process goes on elsewhere
            return self._next(node.scope)
        if node.kind in CHOICES:
            return [t for t, _ in node.outgoing] if len(node.outgoing) == 1 else []
        return [t for t, conditional in node.outgoing if not conditional]

    def _cancel(self, activity: str) -> None:
        """An activity interrupted or terminated: nothing inside it waits any more."""
        lineage = self.structure.lineage
        self.armed = {e for e in self.armed if activity not in lineage(e)}
        self.fired = {
            b for b in self.fired if activity not in lineage(self.structure.nodes[b].attached_to or "")
        }

    def _busy(self, scope: str) -> bool:
        lineage = self.structure.lineage
        inside = [*self.open.values(), *self.armed]
        return any(scope in lineage(e)[1:] for e in inside)

    def _active(self, open_elements: Iterable[str]) -> list[str]:
        active: list[str] = []
        for element in [*open_elements, *sorted(self.armed)]:
            active += [a for a in self.structure.lineage(element) if a not in active]
        return active

    def _forget_fired(self, open_elements: Iterable[str]) -> None:
        """A fired timer boundary waits again only when its activity starts anew."""
        active = set(self._active(open_elements))
        self.fired = {b for b in self.fired if self.structure.nodes[b].attached_to in active}


def _scope_of(el: etree._Element) -> str | None:
    parent = el.getparent()
    while parent is not None:
        if etree.QName(parent).localname in SCOPES and parent.get("id"):
            return parent.get("id")
        parent = parent.getparent()
    return None


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))

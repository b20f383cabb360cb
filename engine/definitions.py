"""Process definitions: checking BPMN/DMN files, deploying them as numbered versions, and the
per-version cache of parsed specs.

A definition is a *bundle*: one BPMN file, the DMN files its business-rule tasks call and the
JSON-Schema forms its user tasks name. The bundle is hashed and stored whole, so a running case
keeps exactly the process, decisions and forms it started with."""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from .bpmn_parser import EngineBpmnParser
from .errors import DefinitionInvalid, Problem
from .sandbox import check_source
from .xml_safety import element_id_at, parse_xml

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DMN_NSS = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
)
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}

# Elements the engine does not execute (or not yet safely): reported, never silently ignored.
UNSUPPORTED = {
    "serviceTask": "service tasks are not supported; use a script task or an adapter",
    "sendTask": "send tasks are not supported; outbound messages go through the outbox",
    "receiveTask": "receive tasks are not supported; use a message intermediate catch event",
    "transaction": "transaction sub-processes are not supported",
    "adHocSubProcess": "ad-hoc sub-processes are not supported",
    "complexGateway": "complex gateways are not supported",
    "signalEventDefinition": "signal events are not supported; use messages",
    "escalationEventDefinition": "escalation events are not supported",
    "compensateEventDefinition": "compensation is not supported",
    "conditionalEventDefinition": "conditional events are not supported",
    "linkEventDefinition": "link events are not supported",
    "cancelEventDefinition": "cancel events are not supported",
    "timeCycle": "cycle timers are not supported; use a timeDate expression",
    "dataStoreReference": "data stores are not supported",
    "standardLoopCharacteristics": "loop markers are not supported; model the loop with a gateway",
    "multiInstanceLoopCharacteristics": "multi-instance activities are not supported",
    "callChoreography": "choreographies are not executable",
    "choreographyTask": "choreographies are not executable",
}
_BUDGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dh])\s*$")
_SLOT = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
SAMPLE_INSTANT = "2026-03-02T09:00:00+07:00"


@dataclass
class Bundle:
    """The files of one process as they will be stored."""

    filename: str
    bpmn: bytes
    dmn: dict[str, bytes] = field(default_factory=dict)
    forms: dict[str, Any] = field(default_factory=dict)
    # Forms that exist but are not valid JSON, with the parser's message (not stored).
    form_errors: dict[str, str] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        digest.update(self.bpmn)
        for name in sorted(self.dmn):
            digest.update(b"\0dmn\0" + name.encode() + b"\0" + self.dmn[name])
        for name in sorted(self.forms):
            canonical = json.dumps(self.forms[name], sort_keys=True, ensure_ascii=False)
            digest.update(b"\0form\0" + name.encode() + b"\0" + canonical.encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class Lane:
    name: str
    role: str
    agency: str  # case agency slot: receiving | resolving | partner ...


@dataclass(frozen=True)
class NodeInfo:
    element_id: str
    properties: dict[str, str]

    @property
    def form(self) -> str | None:
        return self.properties.get("form")

    @property
    def case_status(self) -> str | None:
        return self.properties.get("caseStatus")

    @property
    def budget(self) -> tuple[float, str] | None:
        """(amount, 'd'|'h') or None."""
        match = _BUDGET.match(self.properties.get("budget", ""))
        return (float(match.group(1)), match.group(2)) if match else None


@dataclass
class CompiledProcess:
    """What a case needs from its definition at run time; built once per version."""

    process_id: str
    spec: Any
    subprocess_specs: dict[str, Any]
    lanes: dict[str, Lane]
    nodes: dict[str, NodeInfo]
    forms: dict[str, Any]
    validators: dict[str, Draft202012Validator]


class DefinitionChecker:
    """Every rule of `motcua process check`; also run before each deployment."""

    def __init__(self, roles: tuple[str, ...], statuses: set[str], max_bytes: int, functions: dict[str, Any]):
        self.roles = roles
        self.statuses = statuses
        self.max_bytes = max_bytes
        self.functions = functions

    def check(self, bundle: Bundle) -> list[Problem]:
        return self.check_and_compile(bundle)[1]

    def check_and_compile(self, bundle: Bundle) -> tuple[CompiledProcess | None, list[Problem]]:
        """Every problem of the bundle, and the compiled process when there is none."""
        root, problems = parse_xml(bundle.bpmn, bundle.filename, self.max_bytes)
        if root is None:
            return None, problems
        problems += self._xsd(root, bundle.filename)
        problems += self._semantics(root, bundle)
        for name, content in bundle.dmn.items():
            problems += self._dmn(name, content)
        if problems:
            return None, problems
        return compile_bundle(bundle)

    def _xsd(self, root: etree._Element, filename: str) -> list[Problem]:
        candidate = copy.deepcopy(root)
        VALIDATOR.preprocess(candidate)
        schema = VALIDATOR.validator
        if schema.validate(candidate):
            return []
        return [
            Problem(filename, err.line, element_id_at(root, err.line), f"not valid BPMN 2.0: {err.message}")
            for err in schema.error_log
        ]

    def _semantics(self, root: etree._Element, bundle: Bundle) -> list[Problem]:
        fn = bundle.filename
        problems: list[Problem] = []

        def add(el: etree._Element, message: str) -> None:
            problems.append(Problem(fn, el.sourceline or 1, el.get("id") or "", message))

        processes = root.findall(f"{{{BPMN_NS}}}process")
        executable = [p for p in processes if p.get("isExecutable") == "true"]
        if not executable:
            add(root, 'no executable process (isExecutable="true"): this file is a model only, not runnable')
            return problems
        for el in root.iter():
            if isinstance(el.tag, str) and etree.QName(el).namespace == BPMN_NS:
                reason = UNSUPPORTED.get(etree.QName(el).localname)
                if reason:
                    add(el, reason)
        decisions = _decision_ids(bundle.dmn)
        for process in executable:
            in_lane = {
                ref
                for lane in process.iter(f"{{{BPMN_NS}}}lane")
                for ref in (r.text for r in lane.findall(f"{{{BPMN_NS}}}flowNodeRef"))
                if ref
            }
            for lane_el in process.iter(f"{{{BPMN_NS}}}lane"):
                if lane_el.find(f"{{{BPMN_NS}}}childLaneSet") is not None:
                    continue
                props = _properties(lane_el)
                role = props.get("role")
                if not role:
                    add(lane_el, f"lane {lane_el.get('name')!r} has no role mapping (property 'role')")
                elif role not in self.roles:
                    add(lane_el, f"lane role {role!r} is not one of {', '.join(self.roles)}")
                slot = props.get("agency", "resolving")
                if not _SLOT.match(slot):
                    add(lane_el, f"lane agency {slot!r} is not a valid agency slot name")
            for task in process.iter(f"{{{BPMN_NS}}}userTask", f"{{{BPMN_NS}}}manualTask"):
                if task.get("id") not in in_lane:
                    add(task, "user task is in no lane, so no role can work it")
                form = _properties(task).get("form")
                if not form:
                    add(task, "user task has no form (property 'form')")
                elif form in bundle.form_errors:
                    add(task, f"form {form!r} is not valid JSON: {bundle.form_errors[form]}")
                elif form not in bundle.forms:
                    add(task, f"form {form!r} not found under processes/forms/")
                else:
                    try:
                        Draft202012Validator.check_schema(bundle.forms[form])
                    except SchemaError as err:
                        add(task, f"form {form!r} is not a valid JSON Schema: {err.message}")
            for el in process.iter():
                if not isinstance(el.tag, str):
                    continue
                props = _properties(el)
                if "budget" in props and not _BUDGET.match(props["budget"]):
                    add(el, f"budget {props['budget']!r} must look like '0.5d' or '4h'")
                status = props.get("caseStatus")
                if status and status not in self.statuses:
                    add(el, f"caseStatus {status!r} is not a known status")
                local = etree.QName(el).localname
                if local == "script" and el.text:
                    self._code(add, el.getparent(), el.text, "exec", "script")
                elif local == "conditionExpression" and el.text:
                    self._code(add, el.getparent(), el.text, "eval", "condition")
                elif local in ("timeDate", "timeDuration"):
                    self._timer(add, _owner(el), el.text or "", local)
                elif local == "businessRuleTask":
                    called = el.find(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}calledDecisionId")
                    if called is None or not (called.text or "").strip():
                        add(el, "business-rule task names no decision (spiffworkflow:calledDecisionId)")
                    elif called.text.strip() not in decisions:
                        add(
                            el, f"decision {called.text.strip()!r} is not in any DMN file beside this process"
                        )
            for expr in process.iter(
                f"{{{SPIFF_NS}}}messagePayload", f"{{{SPIFF_NS}}}preScript", f"{{{SPIFF_NS}}}postScript"
            ):
                mode = "eval" if etree.QName(expr).localname == "messagePayload" else "exec"
                if expr.text:
                    self._code(add, _owner(expr), expr.text, mode, etree.QName(expr).localname)
        return problems

    def _code(self, add: Any, owner: etree._Element, source: str, mode: str, what: str) -> None:
        for message in check_source(source, mode):  # type: ignore[arg-type]
            add(owner, f"{what} refused by the sandbox: {message}")

    def _timer(self, add: Any, owner: etree._Element, source: str, kind: str) -> None:
        if not source.strip():
            add(owner, f"timer has an empty {kind} expression")
            return
        messages = check_source(source, "eval")
        if messages:
            for message in messages:
                add(owner, f"timer expression refused by the sandbox: {message}")
            return
        try:
            value = _trial_evaluate(source, self.functions)
            if kind == "timeDate":
                instant = datetime.fromisoformat(value) if isinstance(value, str) else value
                if not isinstance(instant, datetime) or instant.tzinfo is None:
                    raise ValueError(f"gives {value!r}, not a date-time with a UTC offset")
            elif not (isinstance(value, str) and value.upper().startswith("P")):
                raise ValueError(f"gives {value!r}, not an ISO 8601 duration such as 'P2D'")
        except Exception as err:  # noqa: BLE001 - any failure is the designer's to see
            add(owner, f"timer expression does not evaluate: {err}")

    def _dmn(self, name: str, content: bytes) -> list[Problem]:
        root, problems = parse_xml(content, name, self.max_bytes)
        if root is None:
            return problems
        for el in root.iter():
            if isinstance(el.tag, str) and etree.QName(el).localname == "text" and el.text:
                cell = el.text.strip()
                if cell in ("", "-"):
                    continue
                owner = _owner(el)
                # Input entries may be unary tests such as `< 5`; check them as a comparison.
                expression = f"value {cell}" if cell[:1] in "<>=!" else cell
                for message in check_source(expression, "eval"):
                    problems.append(
                        Problem(
                            name,
                            el.sourceline or 1,
                            owner.get("id") or "",
                            f"DMN cell refused by the sandbox: {message}",
                        )
                    )
        return problems


def compile_bundle(bundle: Bundle) -> tuple[CompiledProcess | None, list[Problem]]:
    """Hand a checked bundle to SpiffWorkflow and extract what the runtime needs."""
    fn = bundle.filename
    parser = EngineBpmnParser()
    try:
        root = etree.fromstring(bundle.bpmn, _plain_parser())
        parser.add_bpmn_xml(root, fn)
        for name, content in bundle.dmn.items():
            parser.add_dmn_xml(etree.fromstring(content, _plain_parser()), name)
        process_ids = parser.get_process_ids()
        if not process_ids:
            return None, [Problem(fn, 1, "", "no executable process")]
        process_id = process_ids[0]
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except ValidationException as err:
        line = getattr(err, "line_number", None) or getattr(err, "sourceline", None) or 1
        return None, [Problem(fn, int(line), getattr(err, "id", "") or "", str(err).splitlines()[0])]
    process_el = root.find(f"{{{BPMN_NS}}}process[@id='{process_id}']")
    nodes = {
        el.get("id"): NodeInfo(el.get("id"), _properties(el))
        for el in root.iter()
        if isinstance(el.tag, str) and el.get("id")
    }
    # Formats (date-time, email...) are checked too: a malformed date must be refused at the field.
    validators = {
        name: Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        for name, schema in bundle.forms.items()
    }
    compiled = CompiledProcess(
        process_id=process_id,
        spec=spec,
        subprocess_specs=subprocess_specs,
        lanes=_lanes(process_el) if process_el is not None else {},
        nodes=nodes,
        forms=bundle.forms,
        validators=validators,
    )
    return compiled, []


def load_bundle(bpmn_path: Path, forms_dir: Path) -> Bundle:
    """Read a BPMN file with the DMN files beside it that it calls and the forms it names."""
    content = bpmn_path.read_bytes()
    bundle = Bundle(filename=bpmn_path.name, bpmn=content)
    try:
        root = etree.fromstring(content, _plain_parser())
    except etree.XMLSyntaxError:
        return bundle  # the checker reports the syntax error with its line
    called = {(el.text or "").strip() for el in root.iter(f"{{{SPIFF_NS}}}calledDecisionId")}
    if called:
        for dmn_path in sorted(bpmn_path.parent.glob("*.dmn")):
            dmn_content = dmn_path.read_bytes()
            if called & _decision_ids({dmn_path.name: dmn_content}):
                bundle.dmn[dmn_path.name] = dmn_content
    for el in root.iter():
        if isinstance(el.tag, str):
            form = _properties(el).get("form")
            if form and form not in bundle.forms:
                form_path = (forms_dir / form).resolve()
                if forms_dir.resolve() in form_path.parents and form_path.is_file():
                    try:
                        bundle.forms[form] = json.loads(form_path.read_text(encoding="utf-8"))
                    except json.JSONDecodeError as err:
                        bundle.form_errors[form] = f"line {err.lineno}: {err.msg}"
    return bundle


class SpecCache:
    """Parsed specs per definition id (= process id + version), shared by all cases of a version."""

    def __init__(self) -> None:
        self._items: dict[int, CompiledProcess] = {}
        self._lock = threading.Lock()

    def get(self, definition_id: int, bundle_loader: Any) -> CompiledProcess:
        item = self._items.get(definition_id)
        if item is not None:
            return item
        with self._lock:
            item = self._items.get(definition_id)
            if item is None:
                compiled, problems = compile_bundle(bundle_loader())
                if compiled is None:
                    raise DefinitionInvalid(problems)
                self._items[definition_id] = compiled
                item = compiled
        return item


def _plain_parser() -> etree.XMLParser:
    # Only ever used after parse_xml accepted the bytes; same hardening regardless.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _properties(el: etree._Element) -> dict[str, str]:
    props: dict[str, str] = {}
    ext = el.find(f"{{{BPMN_NS}}}extensionElements")
    if ext is None:
        return props
    for prop in ext.iterfind(f"{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"):
        if prop.get("name"):
            props[prop.get("name")] = prop.get("value", "")
    return props


def _lanes(process: etree._Element) -> dict[str, Lane]:
    lanes: dict[str, Lane] = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        props = _properties(lane)
        name = lane.get("name") or lane.get("id")
        if props.get("role"):
            lanes[name] = Lane(name=name, role=props["role"], agency=props.get("agency", "resolving"))
    return lanes


def _owner(el: etree._Element) -> etree._Element:
    """The nearest ancestor with an id: the element a designer must fix."""
    node: etree._Element | None = el
    while node is not None and (
        not node.get("id") or etree.QName(node).localname.endswith("EventDefinition")
    ):
        node = node.getparent()
    return node if node is not None else el


def _decision_ids(dmn: dict[str, bytes]) -> set[str]:
    ids: set[str] = set()
    for content in dmn.values():
        try:
            root = etree.fromstring(content, _plain_parser())
        except etree.XMLSyntaxError:
            continue
        for el in root.iter():
            if isinstance(el.tag, str) and etree.QName(el).localname == "decision" and el.get("id"):
                ids.add(el.get("id"))
    return ids


def _trial_evaluate(source: str, functions: dict[str, Any]) -> Any:
    """Evaluate a timer expression against sample case data, so a typo or a wrong argument shows
    at deploy time rather than when the timer is due. Unknown data names get a sample instant."""
    from .sandbox import SandboxEnvironment

    sample: dict[str, Any] = {
        "submitted_at": SAMPLE_INSTANT,
        "received_at": SAMPLE_INSTANT,
        "appointment_at": SAMPLE_INSTANT,
        "limits": {
            k: 2
            for k in (
                "reject_days",
                "supplement_days",
                "transfer_days",
                "handle_days",
                "publish_days",
                "remind_before_days",
            )
        },
    }
    for node in ast.walk(ast.parse(source.strip(), mode="eval")):
        if isinstance(node, ast.Name) and node.id not in sample and node.id not in functions:
            sample[node.id] = SAMPLE_INSTANT
    return SandboxEnvironment(functions).evaluate(source.strip(), sample)

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
import time
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
from .sandbox import SAFE_BUILTIN_NAMES, check_source
from .xml_safety import element_ids_by_line, parse_xml

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
    "eventDefinitionRef": "shared event definitions are not supported; define the event inside it",
}
_BUDGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dh])\s*$")
_SLOT = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
SAMPLE_INSTANT = "2026-03-02T09:00:00+07:00"
# Wall-clock budget for trying out timer expressions in one check (a file may hold thousands).
TIMER_TRIAL_SECONDS = 5.0
MODEL_ONLY = 'no executable process (isExecutable="true"): this file is a model only, not runnable'

_ACTIVITIES = frozenset(
    {
        "task",
        "userTask",
        "manualTask",
        "scriptTask",
        "serviceTask",
        "sendTask",
        "receiveTask",
        "businessRuleTask",
        "subProcess",
        "transaction",
        "adHocSubProcess",
        "callActivity",
    }
)
_FLOW_NODES = _ACTIVITIES | {
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "implicitThrowEvent",
    "boundaryEvent",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "complexGateway",
    "callChoreography",
    "choreographyTask",
    "subChoreography",
}
_SCHEMA_NAMESPACES = {
    BPMN_NS,
    SPIFF_NS,
    "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC",
    "http://www.omg.org/spec/DD/20100524/DI",
    "http://www.w3.org/2001/XMLSchema-instance",
    "http://www.w3.org/XML/1998/namespace",
}
_CONTAINERS = ("process", "subProcess", "transaction", "adHocSubProcess")
_TIMER_KINDS = ("timeDate", "timeDuration", "timeCycle")
_PYTHON_SCRIPT_FORMATS = {"python", "python3", "text/python", "text/x-python", "application/x-python"}
# Column sizes of the tables a deployed process writes to (process_definitions.process_id,
# human_tasks.element_id / name / lane / form): longer values would fail at deploy or mid-case.
_MAX_ID = 128
_MAX_NAME = 255
_MAX_SCHEMA_FINDINGS = 200


@dataclass
class _TimerTrials:
    """Timer expressions tried out during one check: each distinct one once, and only until the
    deadline, since every trial may run up to the sandbox's time limit."""

    deadline: float
    verdicts: dict[tuple[str, str], str] = field(default_factory=dict)


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
        fn = bundle.filename
        root, problems = parse_xml(bundle.bpmn, fn, self.max_bytes)
        if root is None:
            return None, problems
        # A file that is not BPMN 2.0, or only a model, gets that one finding: XSD and dialect
        # findings about a process nobody will run would bury it.
        problems = _kind_problems(root, fn)
        if problems:
            return None, problems
        duplicates = _duplicate_ids(root, fn)
        problems = duplicates + self._xsd(root, fn, {p.line for p in duplicates})
        problems += self._semantics(root, bundle)
        problems.sort(key=lambda p: p.line)  # stable: same-line findings keep their order
        for name, content in bundle.dmn.items():
            problems += self._dmn(name, content)
        if problems:
            return None, problems
        return compile_bundle(bundle)

    def _xsd(self, root: etree._Element, filename: str, skip_lines: set[int] | None = None) -> list[Problem]:
        candidate = copy.deepcopy(root)
        VALIDATOR.preprocess(candidate)
        _drop_vendor_attributes(candidate)
        schema = VALIDATOR.validator
        if schema.validate(candidate):
            return []
        element_id_at = element_ids_by_line(root)
        problems = []
        errors = [
            e for e in schema.error_log if not (skip_lines and e.line in skip_lines and "xs:ID'" in e.message)
        ]
        for err in errors[:_MAX_SCHEMA_FINDINGS]:
            line = max(err.line or 1, 1)
            message = _clip(f"not valid BPMN 2.0: {err.message}")
            problems.append(Problem(filename, line, _clip(element_id_at(line), _MAX_ID), message))
        if len(errors) > _MAX_SCHEMA_FINDINGS:
            rest = errors[_MAX_SCHEMA_FINDINGS]
            message = f"{len(errors) - _MAX_SCHEMA_FINDINGS} more schema errors; fix the ones above first"
            problems.append(Problem(filename, max(rest.line or 1, 1), "", message))
        return problems

    def _semantics(self, root: etree._Element, bundle: Bundle) -> list[Problem]:
        problems: list[Problem] = []

        def add(el: etree._Element, message: str) -> None:
            problems.append(_problem(bundle.filename, el, message))

        executable = _executable_processes(root)
        if not executable:
            add(root, MODEL_ONLY)
            return problems
        _check_entry(add, executable)
        decisions = _decision_ids(bundle.dmn)
        trials = _TimerTrials(time.monotonic() + TIMER_TRIAL_SECONDS)
        # Lanes are found by name across the whole file (a called process's too).
        lane_names: dict[str, tuple[etree._Element, tuple[str, str]]] = {}
        # Only the processes that run are held to the dialect: the other pools of a collaboration
        # are descriptions (of the citizen, of a partner agency) and may use any BPMN element.
        for process in executable:
            for el in process.iter():
                reason = UNSUPPORTED.get(_bpmn_local(el))
                if reason:
                    add(_flow_owner(el), reason)
            _check_ids_and_sizes(add, process)
            _check_references(add, process, root, executable)
            self._lanes_and_tasks(add, process, bundle, lane_names)
            self._expressions(add, process, decisions, trials)
        return problems

    def _lanes_and_tasks(
        self,
        add: Any,
        process: etree._Element,
        bundle: Bundle,
        lane_names: dict[str, tuple[etree._Element, tuple[str, str]]],
    ) -> None:
        lane_of = _lane_of_nodes(process)
        for lane_el in process.iter(f"{{{BPMN_NS}}}lane"):
            if _is_parent_lane(lane_el):
                continue
            props = _properties(lane_el)
            role = props.get("role")
            if not role:
                add(lane_el, f"lane {_shown(lane_el.get('name'))} has no role mapping (property 'role')")
            elif role not in self.roles:
                add(lane_el, f"lane role {_shown(role)} is not one of {', '.join(self.roles)}")
            slot = props.get("agency", "resolving")
            if not _SLOT.match(slot):
                add(lane_el, f"lane agency {_shown(slot)} is not a valid agency slot name")
            name = lane_el.get("name")
            if not name:
                add(lane_el, "lane has no name; the engine finds a task's lane by its name")
                continue
            first = lane_names.setdefault(name, (lane_el, (role or "", slot)))
            if first[0] is not lane_el and first[1] != (role or "", slot):
                other = _shown(first[0].get("id"))
                add(
                    lane_el,
                    f"lane name {_shown(name)} is also used by lane {other} with another role or agency",
                )
        for task in process.iter(f"{{{BPMN_NS}}}userTask", f"{{{BPMN_NS}}}manualTask"):
            lane_el = lane_of.get(task.get("id") or "")
            if lane_el is None:
                add(task, "user task is in no lane, so no role can work it")
            elif _is_parent_lane(lane_el) and not _properties(lane_el).get("role"):
                lane = _shown(lane_el.get("name"))
                add(task, f"user task is in lane {lane}, which has child lanes but no role")
            self._form(add, task, bundle)

    def _form(self, add: Any, task: etree._Element, bundle: Bundle) -> None:
        form = _properties(task).get("form")
        if not form:
            add(task, "user task has no form (property 'form')")
        elif form in bundle.form_errors:
            add(task, f"form {_shown(form)} is not valid JSON: {bundle.form_errors[form]}")
        elif form not in bundle.forms:
            add(task, f"form {_shown(form)} not found under processes/forms/")
        else:
            try:
                Draft202012Validator.check_schema(bundle.forms[form])
            except SchemaError as err:
                add(task, f"form {_shown(form)} is not a valid JSON Schema: {_clip(err.message)}")
            except RecursionError:
                add(task, f"form {_shown(form)} is nested too deeply to be checked")

    def _expressions(
        self, add: Any, process: etree._Element, decisions: set[str], trials: _TimerTrials
    ) -> None:
        for el in process.iter():
            if not isinstance(el.tag, str):
                continue
            props = _properties(el)
            if "budget" in props and not _BUDGET.match(props["budget"]):
                add(el, f"budget {_shown(props['budget'])} must look like '0.5d' or '4h'")
            status = props.get("caseStatus")
            if status and status not in self.statuses:
                add(el, f"caseStatus {_shown(status)} is not a known status")
            # Only BPMN's own elements: a vendor's <acme:script> or <camunda:script> is not ours to run.
            local = _bpmn_local(el)
            if local == "script" and el.text:
                self._script(add, el)
            elif local == "conditionExpression" and el.text:
                self._code(add, el.getparent(), el.text, "eval", "condition")
            elif local in ("timeDate", "timeDuration"):
                self._timer(add, _owner(el), el.text or "", local, trials)
            elif local == "businessRuleTask":
                called = el.find(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}calledDecisionId")
                decision = (called.text or "").strip() if called is not None else ""
                if not decision:
                    add(el, "business-rule task names no decision (spiffworkflow:calledDecisionId)")
                elif decision not in decisions:
                    add(el, f"decision {_shown(decision)} is not in any DMN file beside this process")
        for expr in process.iter(
            f"{{{SPIFF_NS}}}messagePayload", f"{{{SPIFF_NS}}}preScript", f"{{{SPIFF_NS}}}postScript"
        ):
            mode = "eval" if etree.QName(expr).localname == "messagePayload" else "exec"
            if expr.text:
                self._code(add, _owner(expr), expr.text, mode, etree.QName(expr).localname)

    def _script(self, add: Any, script: etree._Element) -> None:
        task = script.getparent()
        script_format = (task.get("scriptFormat") or "").strip() if task is not None else ""
        if script_format and script_format.lower() not in _PYTHON_SCRIPT_FORMATS:
            # Files from other tools carry JavaScript or Groovy; say so instead of a syntax error.
            add(task, f"scriptFormat {_shown(script_format)} is not supported: scripts are Python")
            return
        self._code(add, task if task is not None else script, script.text or "", "exec", "script")

    def _code(self, add: Any, owner: etree._Element, source: str, mode: str, what: str) -> None:
        for message in check_source(source, mode):  # type: ignore[arg-type]
            add(owner, f"{what} refused by the sandbox: {_clip(message)}")

    def _timer(
        self, add: Any, owner: etree._Element, source: str, kind: str, trials: _TimerTrials | None = None
    ) -> None:
        if not source.strip():
            add(owner, f"timer has an empty {kind} expression")
            return
        messages = check_source(source, "eval")
        if messages:
            for message in messages:
                add(owner, f"timer expression refused by the sandbox: {_clip(message)}")
            return
        trials = trials or _TimerTrials(time.monotonic() + TIMER_TRIAL_SECONDS)
        key = (source, kind)
        if key not in trials.verdicts:
            if time.monotonic() > trials.deadline:
                return  # budget spent: the static check above still applies
            trials.verdicts[key] = self._trial(source, kind)
        if trials.verdicts[key]:
            add(owner, trials.verdicts[key])

    def _trial(self, source: str, kind: str) -> str:
        """'' when the timer expression evaluates to what its kind needs, else the finding."""
        try:
            value = _trial_evaluate(source, self.functions)
            if kind == "timeDate":
                instant = datetime.fromisoformat(value) if isinstance(value, str) else value
                if not isinstance(instant, datetime) or instant.tzinfo is None:
                    raise ValueError(f"gives {value!r}, not a date-time with a UTC offset")
            elif not (isinstance(value, str) and value.upper().startswith("P")):
                raise ValueError(f"gives {value!r}, not an ISO 8601 duration such as 'P2D'")
        except Exception as err:  # noqa: BLE001 - any failure is the designer's to see
            return _clip(f"timer expression does not evaluate: {err}")
        return ""

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
                            _clip(owner.get("id") or "", _MAX_ID),
                            f"DMN cell refused by the sandbox: {_clip(message)}",
                        )
                    )
        return problems


def compile_bundle(bundle: Bundle) -> tuple[CompiledProcess | None, list[Problem]]:
    """Hand a checked bundle to SpiffWorkflow and extract what the runtime needs."""
    fn = bundle.filename
    try:
        root = etree.fromstring(bundle.bpmn, _plain_parser())
    except etree.XMLSyntaxError as err:
        return None, [Problem(fn, err.lineno or 1, "", f"not well-formed XML: {_clip(err.msg)}")]
    executable = _executable_processes(root)
    entries = _entry_processes(executable)
    # The checker lets through files with exactly one entry process. Versions deployed before it
    # did ran the first executable process, and must keep compiling to the same one.
    entry = entries[0] if len(entries) == 1 else (executable[0] if executable else None)
    if entry is None or not entry.get("id"):
        return None, [Problem(fn, root.sourceline or 1, "", MODEL_ONLY)]
    process_id = entry.get("id") or ""
    _prepare_for_spiff(root, entry)
    parser = EngineBpmnParser()
    try:
        parser.add_bpmn_xml(root, fn)
        for name, content in bundle.dmn.items():
            parser.add_dmn_xml(etree.fromstring(content, _plain_parser()), name)
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except Exception as err:  # noqa: BLE001 - SpiffWorkflow raises anything on input it did not foresee
        return None, [_parser_problem(fn, root, err)]
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
    lanes: dict[str, Lane] = {}
    for process in reversed(executable):  # the entry process's lanes win a name clash
        lanes.update(_lanes(process))
    lanes.update(_lanes(entry))
    compiled = CompiledProcess(
        process_id=process_id,
        spec=spec,
        subprocess_specs=subprocess_specs,
        lanes=lanes,
        nodes=nodes,
        forms=bundle.forms,
        validators=validators,
    )
    return compiled, []


def load_bundle(bpmn_path: Path, forms_dir: Path) -> Bundle:
    """Read a BPMN file with the DMN files beside it that it calls and the forms it names."""
    return bundle_from_bytes(bpmn_path.read_bytes(), bpmn_path.name, bpmn_path.parent, forms_dir)


def bundle_from_bytes(
    content: bytes,
    filename: str,
    dmn_dir: Path,
    forms_dir: Path,
    own_forms: dict[str, Any] | None = None,
) -> Bundle:
    """A bundle for BPMN content that is not (yet) a file, e.g. a designer's draft: the DMN files in
    `dmn_dir` that it calls, and the forms it names, from `own_forms` first, then `forms_dir`.
    Never raises: unreadable XML gives a bundle the checker reports on, with the line."""
    bundle = Bundle(filename=filename, bpmn=content)
    try:
        root = etree.fromstring(content, _plain_parser())
    except etree.XMLSyntaxError:
        return bundle  # the checker reports the syntax error with its line
    called = {(el.text or "").strip() for el in root.iter(f"{{{SPIFF_NS}}}calledDecisionId")}
    if called:
        for dmn_path in sorted(dmn_dir.glob("*.dmn")):
            if not dmn_path.is_file():
                continue
            dmn_content = dmn_path.read_bytes()
            if called & _decision_ids({dmn_path.name: dmn_content}):
                bundle.dmn[dmn_path.name] = dmn_content
    own_forms = own_forms or {}
    for el in root.iter():
        if isinstance(el.tag, str):
            form = _properties(el).get("form")
            if form and form not in bundle.forms and form not in bundle.form_errors:
                if form in own_forms:
                    _accept_form(bundle, form, own_forms[form])
                else:
                    _load_form(bundle, forms_dir, form)
    return bundle


def _load_form(bundle: Bundle, forms_dir: Path, form: str) -> None:
    """Add one form to the bundle, or its error; a form that cannot be found is left out (the
    checker reports it)."""
    try:
        form_path = (forms_dir / form).resolve()
        if forms_dir.resolve() not in form_path.parents or not form_path.is_file():
            return
        text = form_path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        bundle.form_errors[form] = "the file is not UTF-8"
        return
    except OSError:
        return  # a name the file system cannot look up (too long, ...)
    try:
        schema = json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as err:
        bundle.form_errors[form] = f"line {err.lineno}: {err.msg}"
        return
    except (ValueError, RecursionError) as err:  # integers beyond Python's limit, deep nesting
        bundle.form_errors[form] = _clip(str(err) or "nested too deeply", 200)
        return
    _accept_form(bundle, form, schema)


def _accept_form(bundle: Bundle, form: str, schema: Any) -> None:
    if isinstance(schema, str):  # JSON text from an editor
        try:
            schema = json.loads(schema, parse_constant=_not_json)
        except json.JSONDecodeError as err:
            bundle.form_errors[form] = f"line {err.lineno}: {err.msg}"
            return
        except (ValueError, RecursionError) as err:
            bundle.form_errors[form] = _clip(str(err) or "nested too deeply", 200)
            return
    if not isinstance(schema, dict):
        bundle.form_errors[form] = "a form schema must be a JSON object"
        return
    # PostgreSQL's jsonb, where forms are stored, refuses the NUL character.
    if _has_nul(schema):
        bundle.form_errors[form] = "a string contains the NUL character (\\u0000)"
        return
    bundle.forms[form] = schema


def _has_nul(value: Any) -> bool:
    pending = [value]
    while pending:  # no recursion: a form may nest as deep as the JSON parser allows
        item = pending.pop()
        if isinstance(item, str) and "\x00" in item:
            return True
        if isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            pending += item
    return False


def _not_json(constant: str) -> Any:
    """json.loads accepts NaN and Infinity, which are not JSON and cannot be stored."""
    raise ValueError(f"{constant} is not a JSON value")


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


def _flow_owner(el: etree._Element) -> etree._Element:
    """The flow node (task, event, gateway...) an element belongs to, or the element itself: a
    loop marker or an event definition is fixed on its activity or event."""
    if _bpmn_local(el) in _FLOW_NODES or _bpmn_local(el) == "dataStoreReference":
        return el
    for node in el.iterancestors():
        if _bpmn_local(node) in _FLOW_NODES and node.get("id"):
            return node
        if _bpmn_local(node) in _CONTAINERS:
            break
    return el if el.get("id") else _owner(el)


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
    at deploy time rather than when the timer is due. Unknown data names get a sample instant;
    builtins (max, len...) keep their meaning."""
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
    known = sample.keys() | functions.keys() | SAFE_BUILTIN_NAMES
    for node in ast.walk(ast.parse(source.strip(), mode="eval")):
        if isinstance(node, ast.Name) and node.id not in known:
            sample[node.id] = SAMPLE_INSTANT
    return SandboxEnvironment(functions).evaluate(source.strip(), sample)


def _drop_vendor_attributes(root: etree._Element) -> None:
    """Tools add attributes in their own namespaces everywhere, including on diagram elements the
    DI schema closes to them; the engine ignores them, so the schema check does too."""
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for name in [n for n in el.attrib if n.startswith("{")]:
            if etree.QName(name).namespace not in _SCHEMA_NAMESPACES:
                del el.attrib[name]


def _bpmn_local(el: Any) -> str:
    """The local name of a BPMN element; '' for comments, PIs and other namespaces."""
    if not isinstance(el.tag, str) or not el.tag.startswith(f"{{{BPMN_NS}}}"):
        return ""
    return el.tag[len(BPMN_NS) + 2 :]


def _problem(filename: str, el: etree._Element, message: str) -> Problem:
    return Problem(filename, el.sourceline or 1, _clip(el.get("id") or "", _MAX_ID), _clip(message))


def _clip(text: str, limit: int = 300) -> str:
    """Keep messages readable: a hostile file can carry megabytes in one attribute."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(value: str | None) -> str:
    return repr(_clip(value or "", 60))


def _is_true(value: str | None) -> bool:
    return (value or "").strip() in ("true", "1")  # xsd:boolean


def _executable_processes(root: etree._Element) -> list[etree._Element]:
    return [p for p in root.findall(f"{{{BPMN_NS}}}process") if _is_true(p.get("isExecutable"))]


def _entry_processes(executable: list[etree._Element]) -> list[etree._Element]:
    """The executable processes no call activity calls: the ones a case could start."""
    called = {
        (call.get("calledElement") or "").strip()
        for process in executable
        for call in process.iter(f"{{{BPMN_NS}}}callActivity")
    }
    return [p for p in executable if p.get("id") not in called]


def _kind_problems(root: etree._Element, filename: str) -> list[Problem]:
    """One finding for a file that is not BPMN 2.0, or that holds no process to run."""
    qname = etree.QName(root)
    if qname.localname != "definitions" or qname.namespace != BPMN_NS:
        if qname.localname != "definitions":
            found = f"the root element is <{_clip(qname.localname, 60)}>"
        elif qname.namespace:
            found = f"<definitions> is in namespace {_shown(qname.namespace)}"
        else:
            found = "<definitions> has no namespace"
        message = f"not a BPMN 2.0 file: {found}, not <definitions> in {BPMN_NS}; export it as BPMN 2.0 XML"
        return [_problem(filename, root, message)]
    if _executable_processes(root):
        return []
    described = [p.get("id") or "?" for p in root.findall(f"{{{BPMN_NS}}}process")]
    suffix = f" (it describes {', '.join(_shown(p) for p in described[:5])})" if described else ""
    return [_problem(filename, root, MODEL_ONLY + suffix)]


def _duplicate_ids(root: etree._Element, filename: str) -> list[Problem]:
    first_line: dict[str, int] = {}
    problems = []
    for el in root.iter():
        element_id = el.get("id") if isinstance(el.tag, str) else None
        if not element_id:
            continue
        if element_id in first_line:
            line = first_line[element_id]
            problems.append(_problem(filename, el, f"id {_shown(element_id)} is already used on line {line}"))
        else:
            first_line[element_id] = el.sourceline or 1
    return problems


def _check_entry(add: Any, executable: list[etree._Element]) -> None:
    """One file, one process to run. Executable processes reached through call activities are
    parts of it; two that could each start a case are refused rather than guessed between."""
    entries = _entry_processes(executable)
    if not entries:
        add(executable[0], "every executable process is called by a call activity, so none can start a case")
    elif len(entries) > 1:
        names = ", ".join(_shown(p.get("id")) for p in entries[:5])
        add(
            entries[1],
            f"{len(entries)} executable processes in one file ({names}); the engine runs one process per "
            'file: set isExecutable="false" on the others or move them to files of their own',
        )


_RESERVED_IDS = frozenset({"Start", "End"})


def _check_ids_and_sizes(add: Any, process: etree._Element) -> None:
    """Ids are optional in BPMN, but the engine names processes and steps by them."""
    if not process.get("id"):
        add(process, "executable process has no id; processes are deployed and versioned by id")
    for el in process.iter():
        if el.tag == f"{{{SPIFF_NS}}}property" and (el.get("name") is None or el.get("value") is None):
            add(_owner(el), "spiffworkflow:property needs both a name and a value")
        if not _bpmn_local(el):
            continue
        if _bpmn_local(el) in _FLOW_NODES and not el.get("id"):
            add(el, f"{_bpmn_local(el)} has no id")
        if len(el.get("id") or "") > _MAX_ID:
            add(el, f"id is longer than {_MAX_ID} characters")
        if _bpmn_local(el) in _FLOW_NODES and el.get("id") in _RESERVED_IDS:
            # SpiffWorkflow names its own start and end bookkeeping steps so; an element with such
            # an id is silently replaced by them and never runs.
            add(el, f"id {el.get('id')!r} is reserved by the engine; choose another id")
        if _bpmn_local(el) in ("lane", "userTask", "manualTask") and len(el.get("name") or "") > _MAX_NAME:
            add(el, f"name is longer than {_MAX_NAME} characters")
        if len(_properties(el).get("form", "")) > _MAX_NAME:
            add(el, f"form name is longer than {_MAX_NAME} characters")


def _check_references(
    add: Any, process: etree._Element, root: etree._Element, executable: list[etree._Element]
) -> None:
    """References SpiffWorkflow would follow blindly (and drop, or fail on, when they dangle)."""
    flow_nodes = {el.get("id") for el in process.iter() if _bpmn_local(el) in _FLOW_NODES and el.get("id")}
    for container in process.iter(*(f"{{{BPMN_NS}}}{c}" for c in _CONTAINERS)):
        _check_container(add, container, flow_nodes)
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.findall(f"{{{BPMN_NS}}}flowNodeRef"):
            name = (ref.text or "").strip()
            if name and name not in flow_nodes:
                add(lane, f"lane lists {_shown(name)}, which is not a flow node of this process")
    _check_events(add, process, root)
    _check_calls(add, process, root, executable)


def _check_events(add: Any, process: etree._Element, root: etree._Element) -> None:
    messages = {m.get("id"): m for m in root.findall(f"{{{BPMN_NS}}}message") if m.get("id")}
    for definition in process.iter(f"{{{BPMN_NS}}}messageEventDefinition"):
        ref = definition.get("messageRef")
        if not ref:
            add(_owner(definition), "message event names no message (messageRef)")
        elif ref not in messages:
            add(_owner(definition), f"messageRef {_shown(ref)} is not a message of this file")
        elif not (messages[ref].get("name") or "").strip():
            add(_owner(definition), f"message {_shown(ref)} has no name; messages are delivered by name")
    for event in process.iter(f"{{{BPMN_NS}}}boundaryEvent", f"{{{BPMN_NS}}}intermediateCatchEvent"):
        if not any(_bpmn_local(c).endswith("EventDefinition") for c in event):
            add(event, f"{_bpmn_local(event)} has no event definition (message or timer)")
    for definition in process.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
        if not any(definition.find(f"{{{BPMN_NS}}}{kind}") is not None for kind in _TIMER_KINDS):
            add(_owner(definition), "timer has no timeDate or timeDuration")
    for sub in process.iter(f"{{{BPMN_NS}}}subProcess"):
        if not _is_true(sub.get("triggeredByEvent")):
            continue
        for start in sub.findall(f"{{{BPMN_NS}}}startEvent"):
            if start.find(f"{{{BPMN_NS}}}messageEventDefinition") is not None:
                # The engine hands a message only to an event that is waiting for it; the start of
                # an event sub-process never waits, so the message would be refused at run time.
                add(
                    start,
                    "message start events of event sub-processes are not supported; "
                    "use a message boundary event on a sub-process",
                )


def _check_calls(
    add: Any, process: etree._Element, root: etree._Element, executable: list[etree._Element]
) -> None:
    runnable = {p.get("id") for p in executable}
    described = {p.get("id") for p in root.findall(f"{{{BPMN_NS}}}process")}
    for call in process.iter(f"{{{BPMN_NS}}}callActivity"):
        called = (call.get("calledElement") or "").strip()
        if not called:
            add(call, "call activity names no process (calledElement)")
        elif called in described and called not in runnable:
            add(call, f"call activity calls process {_shown(called)}, which is not executable")
        elif called not in runnable:
            add(call, f"call activity calls {_shown(called)}, which is not a process in this file")


def _check_container(add: Any, container: etree._Element, process_nodes: set[str]) -> None:
    """Sequence flows, boundary events and default flows stay inside their (sub-)process."""
    kind = "process" if _bpmn_local(container) == "process" else "sub-process"
    children = [c for c in container if _bpmn_local(c)]
    nodes = {c.get("id"): _bpmn_local(c) for c in children if _bpmn_local(c) in _FLOW_NODES and c.get("id")}
    flows = [c for c in children if _bpmn_local(c) == "sequenceFlow"]
    outgoing: dict[str | None, set[str | None]] = {}
    for flow in flows:
        outgoing.setdefault(flow.get("sourceRef"), set()).add(flow.get("id"))
    for flow in flows:
        for attribute in ("sourceRef", "targetRef"):
            ref = flow.get(attribute)
            if ref in process_nodes and ref not in nodes:
                add(
                    flow,
                    f"sequence flow {attribute} {_shown(ref)} is outside this {kind}; flows cannot cross it",
                )
            elif ref not in nodes:
                add(flow, f"sequence flow {attribute} {_shown(ref)} is not a flow node of this {kind}")
    for child in children:
        local = _bpmn_local(child)
        if local == "boundaryEvent" and nodes.get(child.get("attachedToRef")) not in _ACTIVITIES:
            ref = _shown(child.get("attachedToRef"))
            add(child, f"boundary event is attached to {ref}, which is not an activity of this {kind}")
        default = child.get("default")
        if (
            default is not None
            and local in _FLOW_NODES
            and default not in outgoing.get(child.get("id"), set())
        ):
            add(child, f"default flow {_shown(default)} is not one of its outgoing sequence flows")


def _is_parent_lane(lane: etree._Element) -> bool:
    return lane.find(f"{{{BPMN_NS}}}childLaneSet") is not None


def _lane_of_nodes(process: etree._Element) -> dict[str, etree._Element]:
    """The lane each flow node belongs to, as SpiffWorkflow decides it: the last lane (in
    document order) that lists the node, so a child lane wins over its parent."""
    lane_of: dict[str, etree._Element] = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.findall(f"{{{BPMN_NS}}}flowNodeRef"):
            if (ref.text or "").strip():
                lane_of[(ref.text or "").strip()] = lane
    return lane_of


def _prepare_for_spiff(root: etree._Element, entry: etree._Element) -> None:
    """Align SpiffWorkflow's reading of the file with the checker's. SpiffWorkflow takes a process
    without isExecutable for executable, reads every root data store and message of the file
    (failing on those another tool left without an id or implementation), and does not trim
    whitespace around lane references. Only the entry process and what it calls stay executable."""
    run = _called_closure(root, entry)
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        flag = process.get("isExecutable")
        runs = process.getparent() is root and process.get("id") in run and (flag is None or _is_true(flag))
        process.set("isExecutable", "true" if runs else "false")
    for el in list(root):
        local = _bpmn_local(el)
        unreferenced = local in ("message", "signal", "error", "escalation") and not el.get("id")
        if local == "dataStore" or unreferenced:
            root.remove(el)
    for ref in root.iter(f"{{{BPMN_NS}}}flowNodeRef"):
        ref.text = (ref.text or "").strip()


def _called_closure(root: etree._Element, entry: etree._Element) -> set[str]:
    """Ids of the entry process and of every process it calls, directly or not."""
    by_id = {p.get("id"): p for p in root.findall(f"{{{BPMN_NS}}}process") if p.get("id")}
    run: set[str] = set()
    pending = [entry.get("id") or ""]
    while pending:
        process_id = pending.pop()
        if process_id in run or process_id not in by_id:
            continue
        run.add(process_id)
        pending += [
            (c.get("calledElement") or "").strip()
            for c in by_id[process_id].iter(f"{{{BPMN_NS}}}callActivity")
        ]
    return run


def _parser_problem(filename: str, root: etree._Element, err: Exception) -> Problem:
    """SpiffWorkflow's complaint, pinned to the element it names (its own line number is unset)."""
    element_id = str(getattr(err, "id", "") or "")
    line = getattr(err, "line_number", None)
    if not isinstance(line, int) or line < 1:
        line = _line_of_id(root, element_id)
    text = str(err.args[0]) if err.args else ""
    if isinstance(err, RecursionError) or "RecursionError" in text:
        text = (
            "too many steps in a row for the BPMN parser (it ran out of recursion depth here); "
            "move part of the process into a called process"
        )
    elif not isinstance(err, ValidationException):
        text = f"the BPMN parser failed on this file: {type(err).__name__}: {text}"
    lines = text.strip().splitlines()
    message = _clip(lines[0] if lines else type(err).__name__)
    return Problem(filename, line, _clip(element_id, _MAX_ID), message)


def _line_of_id(root: etree._Element, element_id: str) -> int:
    if element_id:
        for el in root.iter():
            if isinstance(el.tag, str) and el.get("id") == element_id:
                return el.sourceline or 1
    return 1

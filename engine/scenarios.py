"""Scenario tests for process designers (kịch bản kiểm thử quy trình).

A scenario file sits beside its BPMN (`dossier_standard.bpmn` →
`dossier_standard.scenarios.yaml`) and lists scenarios: how a case starts, the steps people and
time take (tasks completed with their data, time let go by, messages) and what must come of
it (the path through the diagram, the end state, the statuses pushed to the portals).

`run_scenarios` runs them headless against the process *as given* — a deployed file or an
undeployed draft bundle — in a throw-away in-memory database seeded with the demo catalogue,
and reports per scenario whether it passed and why not. Nothing outside that database is
touched. docs/scenarios.md describes the file format for designers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent, EventBasedGateway
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update

from .actors import SYSTEM, Actor
from .calendar import VN_TZ
from .catalogue import agency_by_code
from .clock import ManualClock
from .config import Settings
from .db import transaction
from .definitions import Bundle, CompiledProcess, load_bundle
from .errors import DefinitionInvalid, FormInvalid, MotcuaError, NotFound
from .models import Case, CaseEvent, FeedbackPublication, HumanTask, OutboxMessage, Procedure, Staff
from .motcua import Motcua
from .runtime import definition_loader
from .seed import load_seed

# Monday 2 March 2026, 09:00 in Hà Nội: an ordinary working morning.
DEFAULT_START = datetime(2026, 3, 2, 9, 0, tzinfo=VN_TZ)
SCENARIO_SUFFIX = ".scenarios.yaml"
MAX_FILE_BYTES = 1024 * 1024
# YAML aliases are handy for repeated task data; thousands of them are an expansion bomb.
MAX_ALIASES = 500
VERBS = ("complete", "wait", "message", "expect")
WAIT_UNITS = ("minutes", "hours", "days", "working_hours", "working_days")
DEFAULT_APPLICANT = {"name": "Nguyễn Văn An", "phone": "0900000001"}
DEFAULT_SENDER = {"name": "Phạm Văn Đức", "address": "Thôn 3, xã An Bình", "phone": "0911222333"}
DEFAULT_CONTENT = "Phản ánh về quy định hành chính"


class ScenarioInvalid(MotcuaError):
    """A scenario file cannot be read; each problem names file, line, scenario and field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


# -- the model of a scenario file --------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """How the scenario's case begins: a dossier received at a desk or a feedback submitted."""

    kind: str  # dossier | feedback
    fields: dict[str, Any]
    at: datetime
    actor: str | None = None


@dataclass(frozen=True)
class Step:
    """One thing that happens to the case. `verb` is complete | wait | message | expect."""

    verb: str
    target: Any  # element id, wait spec, message name, expectations
    data: dict[str, Any] = field(default_factory=dict)  # task data or message payload
    actor: str | None = None
    # The step must be refused (form, permission, state) with a message containing this text.
    refused: str | None = None
    line: int = 0

    def describe(self) -> str:
        if self.verb == "wait":
            spec = self.target
            what = spec if isinstance(spec, str) else ", ".join(f"{k} {v}" for k, v in spec.items())
            return f"wait {what}"
        if self.verb == "expect":
            return "expect"
        return f"{self.verb} {self.target}"


@dataclass
class Scenario:
    name: str
    start: Start
    steps: list[Step]
    expect: dict[str, Any]
    line: int


@dataclass
class ScenarioResult:
    name: str
    passed: bool
    failures: list[str]
    path: list[str]  # element ids completed, in order
    statuses: list[str]  # case status keys, in order
    pushed: list[int]  # national status codes sent to the outbox, in order
    end: str  # "completed" or "waiting at UT_X, ..."
    duration_ms: float


def scenario_file_for(bpmn_path: Path) -> Path:
    """processes/dossier_standard.bpmn → processes/dossier_standard.scenarios.yaml"""
    return bpmn_path.with_name(bpmn_path.stem + SCENARIO_SUFFIX)


# -- reading and checking scenario files -------------------------------------------------------

_IDS = {"type": "array", "items": {"type": "string", "minLength": 1}, "description": "a list of element ids"}
_INSTANT = {"type": "string", "description": "a date-time in quotes, e.g. '2026-03-02T09:00:00+07:00'"}
_EXPECT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "path": _IDS,
        "not_path": _IDS,
        "open": _IDS,
        "end": {
            "anyOf": [
                {"const": "completed"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "minProperties": 1,
                    "properties": {"open": _IDS, "waiting": _IDS},
                },
            ],
            "description": "'completed' or a mapping with open: [...] and/or waiting: [...]",
        },
        "status": {"type": "string"},
        "statuses": {"type": "array", "items": {"type": "string"}, "description": "a list of status keys"},
        "pushed": {"type": "array", "items": {"type": "integer"}, "description": "a list of status codes"},
        "published": {"type": "boolean"},
        "appointment_at": _INSTANT,
    },
}
_WAIT = {
    "anyOf": [
        {"const": "until_next_timer"},
        {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 1,
            "properties": {
                **{unit: {"type": "number", "exclusiveMinimum": 0} for unit in WAIT_UNITS},
                "until": _INSTANT,
            },
        },
    ],
    "description": "until_next_timer or {N minutes|hours|days|working_hours|working_days, or until: TIME}",
}
_STEP = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "complete": {"type": "string", "minLength": 1, "description": "a user task id"},
        "data": {"type": "object"},
        "as": {"type": "string", "minLength": 1, "description": "a staff username"},
        "wait": _WAIT,
        "message": {"type": "string", "minLength": 1, "description": "a message name"},
        "payload": {"type": "object"},
        "expect": _EXPECT,
        "refused": {"type": "string", "description": "text the refusal must contain"},
    },
}
_DOSSIER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["procedure", "agency"],
    "properties": {
        "procedure": {"type": "string", "description": "a procedure code in quotes, e.g. '2.000720'"},
        "agency": {"type": "string", "description": "an agency code"},
        "resolving_agency": {"type": "string", "description": "an agency code"},
        "channel": {"enum": ["direct", "online", "postal"]},
        "applicant": {"type": "object"},
        "components": {
            "type": "array",
            "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        },
        "extra": {"type": "object"},
    },
}
_FEEDBACK = {
    "type": "object",
    "additionalProperties": False,
    "required": ["agency", "category"],
    "properties": {
        "agency": {"type": "string", "description": "an agency code"},
        "resolving_agency": {"type": "string", "description": "an agency code"},
        "category": {"type": "string"},
        "sender": {"type": "object"},
        "content": {"type": "string", "minLength": 1},
        "channel": {"type": "string"},
    },
}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["scenarios"],
    "properties": {
        "scenarios": {
            "type": "array",
            "minItems": 1,
            "description": "a list of scenarios",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "start"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "start": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "dossier": _DOSSIER,
                            "feedback": _FEEDBACK,
                            "at": _INSTANT,
                            "as": {"type": "string", "minLength": 1, "description": "a staff username"},
                        },
                    },
                    "steps": {"type": "array", "items": _STEP},
                    "expect": _EXPECT,
                },
            },
        }
    },
}
_VALIDATOR = Draft202012Validator(SCHEMA)
_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}


def load_scenarios(path_or_text: Path | str, filename: str = "scenarios.yaml") -> list[Scenario]:
    """Read a scenario file (a Path) or its text (a str; `filename` names it in messages).
    Raises ScenarioInvalid listing every problem found."""
    if isinstance(path_or_text, Path):
        filename = path_or_text.name
        try:
            raw = path_or_text.read_bytes()
        except OSError as err:
            raise ScenarioInvalid([f"{filename}:1: cannot read the file: {err.strerror}"]) from None
        if len(raw) > MAX_FILE_BYTES:
            raise ScenarioInvalid([f"{filename}:1: the file is larger than {MAX_FILE_BYTES} bytes"])
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ScenarioInvalid([f"{filename}:1: the file is not UTF-8 text"]) from None
    else:
        text = path_or_text
        if len(text.encode("utf-8")) > MAX_FILE_BYTES:
            raise ScenarioInvalid([f"{filename}:1: the file is larger than {MAX_FILE_BYTES} bytes"])
    document = _parse_yaml(text, filename)
    problems = [_describe_schema_error(err, document, filename) for err in _VALIDATOR.iter_errors(document)]
    if problems:
        raise ScenarioInvalid(_sorted_by_line(problems))
    scenarios, problems = _build_scenarios(document, filename)
    if problems:
        raise ScenarioInvalid(_sorted_by_line(problems))
    return scenarios


class _Map(dict):
    """A YAML mapping that remembers where it and each of its keys stand."""

    def __init__(self) -> None:
        super().__init__()
        self.line = 1
        self.key_lines: dict[Any, int] = {}


class _Seq(list):
    """A YAML sequence that remembers where it and each of its items stand."""

    def __init__(self, items: Iterable[Any] = ()) -> None:
        super().__init__(items)
        self.line = 1
        self.item_lines: list[int] = []


class _MarkedLoader(yaml.SafeLoader):
    """SafeLoader that keeps line numbers, reports duplicate keys and leaves date-times as
    text (the runner parses them, so a bad one is reported with its field)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.problems: list[tuple[int, str]] = []
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases (line {mark.line + 1})")
        return super().compose_node(parent, index)


def _construct_map(loader: _MarkedLoader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    value = _Map()
    value.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str | int | float | bool) and key is not None:
            loader.problems.append((line, "a key must be plain text"))
            continue
        if key in value:
            loader.problems.append((line, f"duplicate key {key!r}"))
        value[key] = loader.construct_object(value_node, deep=True)
        value.key_lines[key] = line
    return value


def _construct_seq(loader: _MarkedLoader, node: yaml.SequenceNode) -> _Seq:
    value = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    value.line = node.start_mark.line + 1
    value.item_lines = [child.start_mark.line + 1 for child in node.value]
    return value


_MarkedLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_MarkedLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
_MarkedLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _parse_yaml(text: str, filename: str) -> Any:
    loader = _MarkedLoader(text)
    try:
        document = loader.get_single_data()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 1
        raise ScenarioInvalid([f"{filename}:{line}: not valid YAML: {err.problem or err.context}"]) from None
    except yaml.YAMLError as err:
        raise ScenarioInvalid([f"{filename}:1: not valid YAML: {err}"]) from None
    finally:
        loader.dispose()
    if loader.problems:
        raise ScenarioInvalid([f"{filename}:{line}: {message}" for line, message in loader.problems])
    if document is None:
        raise ScenarioInvalid([f"{filename}:1: the file is empty; it must have a 'scenarios' list"])
    return document


def _describe_schema_error(err: ValidationError, document: Any, filename: str) -> str:
    path = list(err.absolute_path)
    line, where = _locate(document, path)
    described = err.schema.get("description") if isinstance(err.schema, dict) else None
    if not path and err.validator == "type":
        return f"{filename}:{line}: the file must be a mapping with a 'scenarios' list"
    if err.validator == "additionalProperties":
        allowed = ", ".join(err.schema.get("properties", {}))
        unknown = [key for key in err.instance if key not in err.schema.get("properties", {})]
        lines = getattr(err.instance, "key_lines", {})
        return "\n".join(
            f"{filename}:{lines.get(key, line)}: {_prefix(where)}unknown key {key!r} (allowed: {allowed})"
            for key in unknown
        )
    field_name = ".".join(where["field"]).replace(".item ", " item ")
    subject = f"{field_name}: " if field_name else ""
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        line = getattr(err.instance, "line", line)
        return f"{filename}:{line}: {_prefix(where)}{subject}missing field {missing!r}"
    if err.validator == "type":
        expected = _TYPE_WORDS.get(str(err.validator_value), str(err.validator_value))
        hint = f" ({described})" if described else ""
        return f"{filename}:{line}: {_prefix(where)}{subject}must be {expected}{hint}, not {err.instance!r}"
    if err.validator == "enum":
        choices = ", ".join(str(v) for v in err.validator_value)
        return f"{filename}:{line}: {_prefix(where)}{subject}must be one of {choices}, not {err.instance!r}"
    if err.validator in ("anyOf", "oneOf", "const") and described:
        return f"{filename}:{line}: {_prefix(where)}{subject}must be {described}"
    if err.validator == "minItems" and err.validator_value == 1:
        return f"{filename}:{line}: {_prefix(where)}{subject}must not be empty"
    return f"{filename}:{line}: {_prefix(where)}{subject}{err.message}"


def _locate(document: Any, path: list[Any]) -> tuple[int, dict[str, Any]]:
    """The line of the deepest node on `path`, and which scenario/step/field it belongs to."""
    line = getattr(document, "line", 1)
    where: dict[str, Any] = {"scenario": None, "step": None, "field": []}
    node = document
    for depth, key in enumerate(path):
        if isinstance(node, _Map) and key in node:
            line = node.key_lines.get(key, line)
        elif isinstance(node, _Seq) and isinstance(key, int) and key < len(node):
            line = node.item_lines[key]
        else:
            break
        if depth == 1 and path[0] == "scenarios":
            name = node[key].get("name") if isinstance(node[key], dict) else None
            where["scenario"] = name if isinstance(name, str) else f"#{key + 1}"
        elif depth == 3 and path[2] == "steps":
            where["step"] = key + 1
        elif depth >= 2 and not (depth == 2 and path[0] == "scenarios" and key == "steps"):
            where["field"].append(f"item {key + 1}" if isinstance(key, int) else str(key))
        node = node[key]
    if where["scenario"] is None and path[:1] == ["scenarios"] and len(path) == 1:
        where["field"] = ["scenarios"]
    elif where["scenario"] is None and path:
        where["field"] = [str(p) for p in path]
    return line, where


def _prefix(where: dict[str, Any]) -> str:
    out = ""
    scenario = where["scenario"]
    if scenario is not None:
        out += f"scenario {scenario}: " if scenario.startswith("#") else f"scenario {scenario!r}: "
    if where["step"] is not None:
        out += f"step {where['step']}: "
    return out


def _sorted_by_line(problems: list[str]) -> list[str]:
    lines = [line for problem in problems for line in problem.split("\n")]

    def key(problem: str) -> int:
        parts = problem.split(":", 2)
        return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else 0

    return sorted(dict.fromkeys(lines), key=key)


def _build_scenarios(document: _Map, filename: str) -> tuple[list[Scenario], list[str]]:
    """The checks a schema cannot say clearly: one verb per step, one start kind, instants."""
    problems: list[str] = []
    scenarios: list[Scenario] = []
    seen: dict[str, int] = {}
    items: _Seq = document["scenarios"]
    for index, item in enumerate(items):
        line = items.item_lines[index]
        name = item["name"]

        def problem(at: int, message: str, name: str = name) -> None:
            problems.append(f"{filename}:{at}: scenario {name!r}: {message}")

        if name in seen:
            problem(item.key_lines["name"], f"the name is already used by the scenario at line {seen[name]}")
        seen.setdefault(name, line)
        start = _build_start(item["start"], problem)
        steps = [
            step
            for position, raw in enumerate(item.get("steps", []))
            if (step := _build_step(raw, position, item["steps"].item_lines[position], problem)) is not None
        ]
        expect = item.get("expect", _Map())
        _check_instants(expect, "expect", problem)
        if start is not None:
            scenarios.append(Scenario(name, start, steps, dict(expect), line))
    return scenarios, problems


def _build_start(raw: _Map, problem: Callable[[int, str], None]) -> Start | None:
    kinds = [kind for kind in ("dossier", "feedback") if kind in raw]
    if len(kinds) != 1:
        problem(raw.line, "start: must have exactly one of 'dossier' or 'feedback'")
        return None
    at = DEFAULT_START
    if "at" in raw:
        at = _instant(raw["at"])
        if at is None:
            problem(raw.key_lines["at"], f"start.at: {raw['at']!r} is not an ISO 8601 date-time")
            return None
    return Start(kinds[0], _plain(raw[kinds[0]]), at, raw.get("as"))


def _build_step(raw: _Map, position: int, line: int, problem: Callable[[int, str], None]) -> Step | None:
    label = f"step {position + 1}: "
    verbs = [verb for verb in VERBS if verb in raw]
    if len(verbs) != 1:
        found = f" (found {', '.join(verbs)})" if verbs else ""
        problem(line, f"{label}must have exactly one of {', '.join(VERBS)}{found}")
        return None
    verb = verbs[0]
    allowed = {"complete": {"data", "as", "refused"}, "message": {"payload", "refused"}}.get(verb, set())
    for key in raw:
        if key != verb and key not in allowed:
            hint = {
                ("data", "message"): " (a message takes 'payload')",
                ("payload", "complete"): " (a task takes 'data')",
            }.get((key, verb), "")
            problem(raw.key_lines[key], f"{label}{key!r} does not go with {verb!r}{hint}")
    wait = raw.get("wait")
    if isinstance(wait, dict) and "until" in wait and _instant(wait["until"]) is None:
        problem(raw.key_lines["wait"], f"{label}wait.until: {raw['wait']['until']!r} is not a date-time")
    if verb == "expect":
        _check_instants(raw["expect"], f"{label}expect", problem)
    refused = raw.get("refused")
    return Step(
        verb=verb,
        target=_plain(raw[verb]),
        data=_plain(raw.get("data", raw.get("payload", {}))),
        actor=raw.get("as"),
        refused=refused,
        line=line,
    )


def _check_instants(expect: _Map, label: str, problem: Callable[[int, str], None]) -> None:
    if "appointment_at" in expect and _instant(expect["appointment_at"]) is None:
        problem(
            expect.key_lines["appointment_at"],
            f"{label}.appointment_at: {expect['appointment_at']!r} is not an ISO 8601 date-time",
        )


def _instant(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=VN_TZ)


def _plain(value: Any) -> Any:
    """Marked YAML containers back to plain dicts and lists (task data goes into the workflow)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# -- running ------------------------------------------------------------------------------------


def run_scenarios(
    bundle: Bundle,
    scenarios: list[Scenario],
    *,
    processes_dir: Path | None = None,
    only: str | None = None,
) -> list[ScenarioResult]:
    """Run the scenarios (or only the one named `only`) against `bundle` in a throw-away
    in-memory database. Raises DefinitionInvalid when the bundle cannot be deployed; every other
    problem is a failure of the scenario it happened in."""
    chosen = [s for s in scenarios if only is None or s.name == only]
    if not chosen:
        return []
    bench = _Bench(bundle, processes_dir)
    try:
        bench.point_procedures_at_bundle(
            {s.start.fields["procedure"] for s in chosen if s.start.kind == "dossier"}
        )
        return [bench.run(scenario) for scenario in chosen]
    finally:
        bench.close()


@dataclass
class _Observation:
    """What a scenario can see of its case at one moment."""

    completed: bool
    status: str
    path: list[str]
    reached_tasks: set[str]  # user tasks that were opened at some point
    open: list[str]
    waiting: list[str]  # events the case waits for when no task is open
    statuses: list[str]
    pushed: list[int]
    appointment_at: datetime | None
    published: bool

    @property
    def end(self) -> str:
        if self.completed:
            return "completed"
        points = self.open or self.waiting
        return f"waiting at {', '.join(points)}" if points else "waiting"


class _StepFailed(Exception):
    """A step could not be carried out for a reason the runner itself found."""


class _Bench:
    """One migrated, seeded in-memory database with the bundle deployed, shared by the scenarios
    of a run. Scenarios stay independent: each has its own case, the clock is reset before each,
    and a finished scenario's case is parked (its timers forgotten) so later clock moves do not
    wake it."""

    def __init__(self, bundle: Bundle, processes_dir: Path | None):
        settings = Settings.from_env()
        if processes_dir is not None:
            settings = replace(settings, processes_dir=processes_dir)
        self.clock = ManualClock(DEFAULT_START)
        self.m = Motcua(settings, clock=self.clock, database_url="sqlite://")
        try:
            self.m.migrate()
            load_seed(self.m)
            self._deploy_shipped()
            self.definition = self.m.deploy_bundle(bundle, note="scenario run")
        except BaseException:
            self.close()
            raise
        self.process_id = self.definition.process_id
        self._staff: dict[tuple[str, int], str | None] = {}

    def close(self) -> None:
        self.m.db.dispose()

    def _deploy_shipped(self) -> None:
        # The other processes make the database look like a real one; a shipped file that does
        # not deploy is no concern of the bundle under test.
        for path in sorted(self.m.settings.processes_dir.glob("*.bpmn")):
            try:
                self.m.deploy_file(path)
            except DefinitionInvalid:
                continue

    def point_procedures_at_bundle(self, codes: Iterable[str]) -> None:
        """A dossier scenario tests the bundle whatever process its procedure names in the
        catalogue, so a draft of a new process can borrow an existing procedure."""
        with transaction(self.m.sessions) as session:
            session.execute(
                update(Procedure)
                .where(Procedure.code.in_(list(codes)), Procedure.process_id != self.process_id)
                .values(process_id=self.process_id)
            )

    @property
    def compiled(self) -> CompiledProcess:
        return self.m.specs.get(self.definition.id, definition_loader(self.definition))

    # -- one scenario --------------------------------------------------------------------------

    def run(self, scenario: Scenario) -> ScenarioResult:
        began = time.perf_counter()
        failures: list[str] = []
        code: str | None = None
        self.clock.set(scenario.start.at)
        try:
            code = self._start(scenario.start)
        except (MotcuaError, _StepFailed) as err:
            failures.append(f"start: {_reason(err)}")
        except Exception as err:  # a broken draft must not stop the other scenarios
            failures.append(f"start: unexpected error: {type(err).__name__}: {err}")
        observed: _Observation | None = None
        if code is not None:
            failures += self._play(scenario, code)
            try:
                observed = self._observe(code)
                self._park(code)
            except Exception as err:  # the case could not be read back: say so, run the others
                failures.append(f"the case could not be read: {type(err).__name__}: {err}")
        return ScenarioResult(
            name=scenario.name,
            passed=not failures,
            failures=failures,
            path=observed.path if observed else [],
            statuses=observed.statuses if observed else [],
            pushed=observed.pushed if observed else [],
            end=observed.end if observed else "not started",
            duration_ms=(time.perf_counter() - began) * 1000,
        )

    def _play(self, scenario: Scenario, code: str) -> list[str]:
        for number, step in enumerate(scenario.steps, start=1):
            label = f"step {number} (line {step.line}) {step.describe()}"
            try:
                failures = self._step(step, code)
            except Exception as err:  # reported, never raised: the next scenario must run
                failures = [f"unexpected error: {type(err).__name__}: {err}"]
            if failures:
                # Later steps and the final expectations would only repeat the damage.
                return [f"{label}: {failure}" for failure in failures]
        try:
            failures = _check_expectations(scenario.expect, self._observe(code), self.nodes)
        except Exception as err:  # reported, never raised: the next scenario must run
            failures = [f"unexpected error: {type(err).__name__}: {err}"]
        return [f"expect: {failure}" for failure in failures]

    @property
    def nodes(self) -> set[str]:
        return set(self.compiled.nodes)

    def _step(self, step: Step, code: str) -> list[str]:
        if step.verb == "expect":
            return _check_expectations(step.target, self._observe(code), self.nodes)
        action = {"complete": self._complete, "wait": self._wait, "message": self._message}[step.verb]
        try:
            action(step, code)
        except (MotcuaError, _StepFailed) as err:
            if step.refused is None:
                return [_reason(err)]
            if step.refused.casefold() not in _reason(err).casefold():
                return [f"refused as expected, but with {_reason(err)!r}, not {step.refused!r}"]
            return []
        if step.refused is not None:
            return [f"expected a refusal containing {step.refused!r}, but the step went through"]
        return []

    def _start(self, start: Start) -> str:
        fields = start.fields
        if start.kind == "dossier":
            actor = self._starter(start, fields["agency"])
            return self.m.receive_dossier(
                fields["procedure"],
                fields["agency"],
                applicant=fields.get("applicant", DEFAULT_APPLICANT),
                actor=actor,
                channel=fields.get("channel", "direct"),
                components=fields.get("components", ()),
                resolving_agency=fields.get("resolving_agency"),
                extra=fields.get("extra"),
            ).case_code
        if self.process_id != "feedback":
            raise _StepFailed(
                f"a feedback always starts process 'feedback', so a feedback scenario cannot test "
                f"process {self.process_id!r}"
            )
        return self.m.submit_feedback(
            fields["agency"],
            sender=fields.get("sender", DEFAULT_SENDER),
            category=fields["category"],
            content=fields.get("content", DEFAULT_CONTENT),
            actor=self._starter(start, fields["agency"]),
            channel=fields.get("channel", "online"),
            resolving_agency=fields.get("resolving_agency"),
        ).case_code

    def _starter(self, start: Start, agency_code: str) -> Actor:
        if start.actor:
            return self.m.actor_for(start.actor)
        with transaction(self.m.sessions) as session:
            agency_id = agency_by_code(session, agency_code).id
        username = self._staff_for("officer", agency_id)
        # No officer at that agency: the case comes in from outside (the portal), as the system.
        return self.m.actor_for(username) if username else SYSTEM

    def _complete(self, step: Step, code: str) -> None:
        element = str(step.target)
        if element not in self.nodes:
            raise _StepFailed(f"{element} is not an element of process {self.process_id!r}")
        tasks = self.m.open_tasks(code)
        task = next((t for t in tasks if t.element_id == element), None)
        if task is None:
            raise _StepFailed(f"{element} is not open; {self._open_summary(code, tasks)}")
        if step.actor:
            actor = self.m.actor_for(step.actor)
        else:
            username = self._staff_for(task.role, task.agency_id)
            if username is None:
                raise _StepFailed(
                    f"no seeded staff member is {task.role} of agency {task.agency_id}; name one with 'as:'"
                )
            actor = self.m.actor_for(username)
        if task.assignee is None:
            self.m.claim_task(task.id, actor)
        try:
            self.m.complete_task(task.id, step.data, actor)
        except FormInvalid as err:
            fields = "; ".join(f"{name}: {', '.join(messages)}" for name, messages in err.errors.items())
            raise _StepFailed(f"the form refused the data: {fields}") from None

    def _open_summary(self, code: str, tasks: list[HumanTask]) -> str:
        if tasks:
            return f"open tasks: {', '.join(t.element_id for t in tasks)}"
        observed = self._observe(code)
        if observed.completed:
            return "the case is completed"
        return f"no task is open; the case is {observed.end}"

    def _wait(self, step: Step, code: str) -> None:
        now = self.clock.now()
        spec = step.target
        if spec == "until_next_timer":
            with transaction(self.m.sessions) as session:
                wake_at = session.scalars(select(Case.wake_at).where(Case.code == code)).one()
            if wake_at is None:
                raise _StepFailed("no timer is waiting")
            target = max(wake_at, now)
        else:
            ((unit, amount),) = spec.items()
            calendar = self.m.calendar
            target = {
                "minutes": lambda: now + timedelta(minutes=amount),
                "hours": lambda: now + timedelta(hours=amount),
                "days": lambda: now + timedelta(days=amount),
                "working_hours": lambda: calendar.add_working_hours(now, amount),
                "working_days": lambda: calendar.add_working_days(now, amount),
                "until": lambda: _instant(amount),
            }[unit]()
            if target < now:
                raise _StepFailed(f"time cannot go back from {_show(now)} to {_show(target)}")
        self.clock.set(target)
        self.m.fire_due_timers()

    def _message(self, step: Step, code: str) -> None:
        self.m.deliver_message(code, str(step.target), step.data, SYSTEM)

    def _staff_for(self, role: str, agency_id: int) -> str | None:
        """The first seeded staff member holding `role` in the agency (who works a task by default)."""
        key = (role, agency_id)
        if key not in self._staff:
            with transaction(self.m.sessions) as session:
                staff = session.scalars(
                    select(Staff).where(Staff.agency_id == agency_id, Staff.active).order_by(Staff.id)
                ).all()
            self._staff[key] = next((s.username for s in staff if role in s.roles), None)
        return self._staff[key]

    def _park(self, code: str) -> None:
        with transaction(self.m.sessions) as session:
            session.execute(update(Case).where(Case.code == code).values(wake_at=None))

    # -- observing -----------------------------------------------------------------------------

    def _observe(self, code: str) -> _Observation:
        with transaction(self.m.sessions) as session:
            case = session.scalars(select(Case).where(Case.code == code)).one()
            compiled = self.m.compiled_for(session, case)
            workflow = self.m.serializer.load(case.state, compiled.spec, compiled.subprocess_specs, None)
            events = session.scalars(
                select(CaseEvent)
                .where(CaseEvent.case_id == case.id, CaseEvent.type.in_(("status_changed", "task_created")))
                .order_by(CaseEvent.seq)
            ).all()
            outbox = session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.case_id == case.id, OutboxMessage.topic == "case.status_changed")
                .order_by(OutboxMessage.id)
            ).all()
            open_rows = session.scalars(
                select(HumanTask.element_id)
                .where(HumanTask.case_id == case.id, HumanTask.status == "open")
                .order_by(HumanTask.id)
            ).all()
            published = session.get(FeedbackPublication, case.id) is not None
            path, waiting = _walk(workflow, compiled)
            codes = [row.payload.get("national_status_code") for row in outbox]
            return _Observation(
                completed=case.completed,
                status=case.status,
                path=path,
                reached_tasks={e.element_id for e in events if e.type == "task_created" and e.element_id},
                open=list(open_rows),
                waiting=waiting,
                statuses=[e.data["to"] for e in events if e.type == "status_changed"],
                pushed=[c for c in codes if isinstance(c, int)],
                appointment_at=case.appointment_at,
                published=published,
            )


def _walk(workflow: Any, compiled: CompiledProcess) -> tuple[list[str], list[str]]:
    """Elements completed, in the order they completed (repeats kept: a task sent back and done
    again appears twice), and the events the case waits for (not user tasks, not boundary events
    that merely guard an activity, not sub-processes)."""
    active = TaskState.READY | TaskState.WAITING | TaskState.STARTED
    tasks = sorted(workflow.get_tasks(state=active | TaskState.COMPLETED), key=lambda t: t.last_state_change)
    path: list[str] = []
    waiting: list[str] = []
    for task in tasks:
        spec = task.task_spec
        if spec.name not in compiled.nodes:  # SpiffWorkflow's own bookkeeping specs
            continue
        if task.state == TaskState.COMPLETED:
            path.append(spec.name)
        elif isinstance(spec, EventBasedGateway):
            waiting.extend(output.name for output in spec.outputs if output.name not in waiting)
        elif (
            isinstance(spec, CatchingEvent)
            and not isinstance(spec, BoundaryEvent | SubWorkflowTask)
            and not spec.manual
            and spec.name not in waiting
        ):
            waiting.append(spec.name)
    return path, waiting


# -- expectations ----------------------------------------------------------------------------


def _check_expectations(expect: dict[str, Any], seen: _Observation, nodes: set[str]) -> list[str]:
    """Every way the case differs from `expect`, each saying what was expected and what is."""
    failures: list[str] = []
    for key in ("path", "not_path", "open"):
        unknown = [e for e in expect.get(key, []) if e not in nodes]
        if unknown:
            failures.append(f"{key}: {', '.join(unknown)} not an element of this process")
    if "path" in expect:
        missing = _missing_from_path(expect["path"], seen.path)
        if missing is not None:
            failures.append(
                f"path: expected {' → '.join(expect['path'])} in this order; {missing}; "
                f"actual path: {' → '.join(seen.path) or '(nothing)'}"
            )
    if "not_path" in expect:
        reached = [
            f"{e} ({'completed' if e in seen.path else 'opened'})"
            for e in expect["not_path"]
            if e in seen.path or e in seen.reached_tasks
        ]
        if reached:
            failures.append(
                f"not_path: expected never reached, but reached {', '.join(reached)}; "
                f"actual path: {' → '.join(seen.path)}"
            )
    if "open" in expect and sorted(expect["open"]) != sorted(seen.open):
        failures.append(f"open: expected {_list(sorted(expect['open']))}, actual {_list(seen.open)}")
    if "end" in expect:
        failures += _check_end(expect["end"], seen)
    if "status" in expect and expect["status"] != seen.status:
        failures.append(f"status: expected {expect['status']!r}, actual {seen.status!r}")
    if "statuses" in expect and list(expect["statuses"]) != seen.statuses:
        failures.append(f"statuses: expected {_list(expect['statuses'])}, actual {_list(seen.statuses)}")
    if "pushed" in expect and list(expect["pushed"]) != seen.pushed:
        failures.append(f"pushed: expected {_list(expect['pushed'])}, actual {_list(seen.pushed)}")
    if "published" in expect and expect["published"] != seen.published:
        actual = "an answer was published" if seen.published else "no answer was published"
        failures.append(f"published: expected {str(expect['published']).lower()}, actual: {actual}")
    if "appointment_at" in expect:
        wanted = _instant(expect["appointment_at"])
        if wanted != seen.appointment_at:
            actual = _show(seen.appointment_at) if seen.appointment_at else "no appointment"
            failures.append(f"appointment_at: expected {_show(wanted)}, actual {actual}")
    return failures


def _missing_from_path(expected: list[str], path: list[str]) -> str | None:
    """None when `expected` is a subsequence of `path`; else what is missing, and after what."""
    position = 0
    previous: str | None = None
    for element in expected:
        try:
            position = path.index(element, position) + 1
        except ValueError:
            if element in path:
                return f"{element} was not completed after {previous}"
            return f"{element} was never completed"
        previous = element
    return None


def _check_end(end: Any, seen: _Observation) -> list[str]:
    if end == "completed":
        return [] if seen.completed else [f"end: expected completed, actual {seen.end}"]
    if seen.completed:
        return [f"end: expected the case waiting ({_describe_end(end)}), actual completed"]
    failures = []
    if "open" in end and sorted(end["open"]) != sorted(seen.open):
        failures.append(f"end: expected open tasks {_list(sorted(end['open']))}, actual {_list(seen.open)}")
    if "waiting" in end and sorted(end["waiting"]) != sorted(seen.waiting):
        failures.append(
            f"end: expected waiting for {_list(sorted(end['waiting']))}, actual {_list(seen.waiting)}"
        )
    return failures


def _describe_end(end: dict[str, Any]) -> str:
    return "; ".join(f"{key}: {', '.join(value) or '-'}" for key, value in end.items())


def _list(items: Iterable[Any]) -> str:
    return "[" + ", ".join(str(i) for i in items) + "]"


def _show(instant: datetime | None) -> str:
    return instant.astimezone(VN_TZ).isoformat() if instant else "-"


def _reason(err: BaseException) -> str:
    return str(err) or type(err).__name__


# -- scenario files beside BPMN files --------------------------------------------------------


def processes_with_scenarios(processes_dir: Path) -> list[Path]:
    """The BPMN files of a directory that have a scenario file beside them."""
    return [p for p in sorted(processes_dir.glob("*.bpmn")) if scenario_file_for(p).is_file()]


def find_process_file(name_or_path: str, processes_dir: Path) -> Path:
    """A process named by its id (the file name in processes/, e.g. `dossier_standard`) or by
    the path of its .bpmn file."""
    if name_or_path.endswith(".bpmn") or "/" in name_or_path or "\\" in name_or_path:
        path = Path(name_or_path)
    else:
        path = processes_dir / f"{name_or_path}.bpmn"
    if not path.is_file():
        raise NotFound(f"no process file {path}")
    return path


def run_file(
    bpmn_path: Path,
    *,
    forms_dir: Path | None = None,
    processes_dir: Path | None = None,
    only: str | None = None,
) -> list[ScenarioResult]:
    """Run the scenario file beside a BPMN file against that file (with the DMN files beside it
    and its forms: `forms/` beside it, else the shipped forms)."""
    scenarios = load_scenarios(scenario_file_for(bpmn_path))
    if forms_dir is None:
        beside = bpmn_path.parent / "forms"
        forms_dir = (
            beside if beside.is_dir() else (processes_dir or Settings.from_env().processes_dir) / "forms"
        )
    bundle = load_bundle(bpmn_path, forms_dir)
    return run_scenarios(bundle, scenarios, processes_dir=processes_dir, only=only)

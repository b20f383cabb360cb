"""Files from other BPMN tools (reference-style collaborations, descriptive models, vendor
extensions, partial diagrams) and hostile files: the checker never raises, executable processes
pass or are refused element by element, models are recognised as such."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree
from sqlalchemy import select

from engine.calendar import VN_TZ
from engine.cli import cli
from engine.clock import ManualClock
from engine.config import Settings
from engine.db import transaction
from engine.definitions import Bundle, compile_bundle, load_bundle
from engine.errors import DefinitionInvalid, Problem
from engine.models import ProcessDefinition
from engine.motcua import Motcua

INTERCHANGE = Path(__file__).parent / "fixtures" / "interchange"
FIXTURES = sorted(INTERCHANGE.glob("*.bpmn"))
SHIPPED = sorted((Path(__file__).parents[1] / "processes").glob("*.bpmn"))
FORMS = Path(__file__).parents[1] / "processes" / "forms"

# Fixture -> the process that runs. Each passes the check and compiles to that process.
PASSING = {
    "collaboration_three_pools.bpmn": "ix_desk_permit",
    "called_process.bpmn": "ix_called_main",
    "event_subprocess.bpmn": "ix_event_sub",
    "vendor_extensions.bpmn": "ix_vendor",
    "no_diagram.bpmn": "ix_no_diagram",
    "stale_diagram.bpmn": "ix_stale_diagram",
    "unflagged_pool_first.bpmn": "ix_unflagged_desk",
}
# Fixture -> every finding, as (element id, part of the message), in line order.
REFUSED = {
    "collaboration_unsupported.bpmn": [
        ("U_recall", "signal events are not supported"),
        ("U_split", "complex gateways are not supported"),
        ("U_notify_partner", "send tasks are not supported"),
        ("U_wait_partner", "receive tasks are not supported"),
        ("U_lookup", "service tasks are not supported"),
        ("U_sign_all", "multi-instance activities are not supported"),
        ("U_poll", "loop markers are not supported"),
        ("U_every_day", "cycle timers are not supported"),
        ("U_escalate", "escalation events are not supported"),
        ("U_archive", "data stores are not supported"),
    ],
    "dangling_references.bpmn": [
        ("Lane_dangling", "lane lists 'Dg_deleted_task', which is not a flow node of this process"),
        ("Dg_gate", "default flow 'Dg_f4' is not one of its outgoing sequence flows"),
        ("Dg_s1", "targetRef 'Dg_end' is outside this sub-process"),
        ("Dg_orphan_timer", "attached to 'Dg_missing_task', which is not an activity"),
        ("Dg_wait", "messageRef 'Msg_dangling_unknown' is not a message of this file"),
        ("Dg_wait_nothing", "intermediateCatchEvent has no event definition"),
        ("Dg_wait_timer", "timer has no timeDate or timeDuration"),
        ("Dg_call", "calls 'ix_not_in_this_file', which is not a process in this file"),
        ("Dg_f4", "targetRef 'Dg_nowhere' is not a flow node of this process"),
    ],
    "duplicate_ids.bpmn": [
        ("Dup_task", "id 'Dup_task' is already used on line 23"),
        ("ix_dup", "id 'ix_dup' is already used on line 11"),
        ("Dup_f1", "id 'Dup_f1' is already used on line 32"),
    ],
    "two_executable_processes.bpmn": [
        ("ix_two_archive", "2 executable processes in one file ('ix_two_reception', 'ix_two_archive')"),
    ],
    "event_subprocess_message.bpmn": [
        ("Es_withdraw_start", "message start events of event sub-processes are not supported"),
    ],
    "process_without_id.bpmn": [("", "executable process has no id")],
    "long_form_name.bpmn": [
        ("NoDi_appraise", "form name is longer than 255 characters"),
        ("NoDi_appraise", "not found under processes/forms/"),
    ],
}
# Fixture -> (line, the single finding): files that are not BPMN 2.0 or cannot be read as UTF-8.
UNREADABLE = {
    "wrong_namespace.bpmn": (5, "not a BPMN 2.0 file: <definitions> is in namespace"),
    "deep_nesting.bpmn": (261, "elements are nested too deeply"),
    "latin1_encoding.bpmn": (9, "file is not UTF-8 (byte 0xea)"),
    "utf16_doctype.bpmn": (1, "file contains NUL bytes (UTF-16?)"),
}
MODELS = ["descriptive_model.bpmn"]


@pytest.fixture(scope="module")
def checker_motcua(tmp_path_factory: pytest.TempPathFactory) -> Motcua:
    """Only the checker is needed: an in-memory database, the shipped forms."""
    home = tmp_path_factory.mktemp("home")
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=VN_TZ))
    m = Motcua(replace(Settings(), home=home), clock=clock, database_url="sqlite://")
    m.migrate()
    return m


@pytest.fixture(scope="module")
def check(checker_motcua: Motcua) -> Callable[[Bundle], list[Problem]]:
    """The checks deployment runs; a refusal must always say why."""
    checker = checker_motcua.checker()

    def run(bundle: Bundle) -> list[Problem]:
        compiled, problems = checker.check_and_compile(bundle)
        assert compiled is not None or problems, "refused without saying why"
        return problems

    return run


def element_lines(path: Path) -> dict[str, set[int]]:
    """The lines on which each id is defined in a fixture."""
    lines: dict[str, set[int]] = {}
    for el in etree.parse(str(path), etree.XMLParser(resolve_entities=False)).iter():
        if isinstance(el.tag, str) and el.get("id"):
            lines.setdefault(el.get("id"), set()).add(el.sourceline)
    return lines


def assert_well_formed(problems: list[Problem], filename: str) -> None:
    for problem in problems:
        assert isinstance(problem, Problem)
        assert problem.line >= 1 and problem.message
        assert problem.file == filename or problem.file.endswith(".dmn")
        assert len(str(problem)) < 1000, "a finding must stay readable whatever the file holds"


def test_the_fixture_set_covers_every_case():
    known = set(PASSING) | set(REFUSED) | set(UNREADABLE) | set(MODELS)
    assert {p.name for p in FIXTURES} == known


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_every_fixture_is_checked_without_raising(check, path):
    problems = check(load_bundle(path, FORMS))
    assert_well_formed(problems, path.name)
    if path.name in UNREADABLE:
        return
    lines = element_lines(path)
    for problem in problems:
        if problem.element_id:  # pinned to the element at fault, on its line
            assert problem.line in lines[problem.element_id], problem


@pytest.mark.parametrize("name", sorted(PASSING))
def test_executable_interchange_models_pass_and_compile(check, name):
    bundle = load_bundle(INTERCHANGE / name, FORMS)
    assert check(bundle) == []
    compiled, problems = compile_bundle(bundle)
    assert problems == [] and compiled is not None
    assert compiled.process_id == PASSING[name]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_models_name_each_element_at_fault(check, name):
    problems = check(load_bundle(INTERCHANGE / name, FORMS))
    found = [(p.element_id, p.message) for p in problems]
    assert len(found) == len(REFUSED[name]), found
    for (element_id, message), (expected_id, fragment) in zip(found, REFUSED[name], strict=True):
        assert element_id == expected_id and fragment in message, (element_id, message)


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_unreadable_files_get_one_finding(check, name):
    problems = check(load_bundle(INTERCHANGE / name, FORMS))
    line, fragment = UNREADABLE[name]
    assert len(problems) == 1 and problems[0].line == line and fragment in problems[0].message, problems


def test_descriptive_model_is_one_clear_finding(check):
    path = INTERCHANGE / "descriptive_model.bpmn"
    problems = check(load_bundle(path, FORMS))
    assert [(p.line, p.element_id) for p in problems] == [(9, "Defs_ix_descriptive")]
    assert "model only, not runnable" in problems[0].message and "ix_descriptive" in problems[0].message


def test_a_model_with_schema_errors_is_still_just_a_model(check):
    """No XSD noise about a process nobody runs: the finding that matters is that it does not run."""
    text = (INTERCHANGE / "collaboration_three_pools.bpmn").read_text(encoding="utf-8")
    text = text.replace('isExecutable="true"', 'isExecutable="false"').replace(
        "<bpmn:task ", "<bpmn:task bogus='1' "
    )
    problems = check(Bundle("model.bpmn", text.encode()))
    assert len(problems) == 1 and "model only" in problems[0].message
    assert "not valid BPMN" not in problems[0].message


def test_is_executable_is_read_as_an_xsd_boolean(check):
    text = (INTERCHANGE / "no_diagram.bpmn").read_text(encoding="utf-8")
    bundle = load_bundle(INTERCHANGE / "no_diagram.bpmn", FORMS)
    assert check(replace(bundle, bpmn=text.replace('isExecutable="true"', 'isExecutable="1"').encode())) == []
    absent = check(replace(bundle, bpmn=text.replace(' isExecutable="true"', "").encode()))
    assert len(absent) == 1 and "model only" in absent[0].message


def test_scripts_in_other_languages_are_refused_by_name(check):
    text = (INTERCHANGE / "vendor_extensions.bpmn").read_text(encoding="utf-8")
    text = text.replace('scriptFormat="text/x-python"', 'scriptFormat="javascript"')
    problems = check(replace(load_bundle(INTERCHANGE / "vendor_extensions.bpmn", FORMS), bpmn=text.encode()))
    assert [(p.element_id, p.message) for p in problems] == [
        ("V_tally", "scriptFormat 'javascript' is not supported: scripts are Python")
    ]


def test_deeply_nested_sub_processes_within_the_parser_limit_compile(check):
    depth = 100
    opening = "".join(
        f'<bpmn:subProcess id="S{i}"><bpmn:startEvent id="S{i}_s"/>'
        f'<bpmn:sequenceFlow id="S{i}_in" sourceRef="S{i}_s" targetRef="S{i + 1}"/>'
        f'<bpmn:sequenceFlow id="S{i}_out" sourceRef="S{i + 1}" targetRef="S{i}_e"/>'
        f'<bpmn:endEvent id="S{i}_e"/>\n'
        for i in range(depth)
    )
    core = (
        f'<bpmn:subProcess id="S{depth}"><bpmn:startEvent id="core_s"/>'
        '<bpmn:sequenceFlow id="core" sourceRef="core_s" targetRef="core_e"/><bpmn:endEvent id="core_e"/>'
        "</bpmn:subProcess>\n"
    )
    text = process_file(
        '<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="in" sourceRef="start" targetRef="S0"/>\n'
        + opening
        + core
        + "</bpmn:subProcess>\n" * depth
        + '<bpmn:endEvent id="end"/><bpmn:sequenceFlow id="out" sourceRef="S0" targetRef="end"/>'
    )
    assert check(Bundle("nested.bpmn", text.encode())) == []


def test_a_chain_too_long_for_the_parser_is_a_finding(check):
    steps = 1500
    body = "".join(
        f'<bpmn:scriptTask id="t{i}"><bpmn:script>x = {i}</bpmn:script></bpmn:scriptTask>'
        f'<bpmn:sequenceFlow id="f{i}" sourceRef="t{i}" targetRef="t{i + 1}"/>\n'
        for i in range(steps)
    )
    text = process_file(
        f'<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="in" sourceRef="start" targetRef="t0"/>\n'
        f'{body}<bpmn:endEvent id="t{steps}"/>'
    )
    problems = check(Bundle("chain.bpmn", text.encode()))
    assert len(problems) == 1 and "too many steps in a row" in problems[0].message
    assert re.fullmatch(r"t\d+", problems[0].element_id) and problems[0].line > 3


def test_schema_findings_stop_after_a_few_hundred(check):
    body = "".join(f'<bpmn:task id="t{i}" bogus="1"/>\n' for i in range(2000))
    problems = check(Bundle("noisy.bpmn", process_file(body).encode()))
    assert len([p for p in problems if "not valid BPMN" in p.message]) == 200
    assert any(p.message.startswith("1800 more schema errors") for p in problems)


def test_timer_expressions_may_use_builtins(check):
    timer = "add_working_days(submitted_at, max(1, limits['handle_days']))"
    text = process_file(
        '<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>'
        f'<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition id="w">'
        f"<bpmn:timeDate>{timer}</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
        '<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end"/><bpmn:endEvent id="end"/>'
    )
    assert check(Bundle("timer.bpmn", text.encode())) == []


def test_broken_forms_and_odd_neighbours_do_not_break_loading(check, tmp_path):
    """Regression: load_bundle raised on a form that is not UTF-8, on integers too long for Python,
    on JSON nested past the recursion limit, and on a directory named like a DMN file; NaN and the
    NUL character passed the check and then failed where PostgreSQL stores the forms."""
    forms = tmp_path / "forms"
    (forms / "x").mkdir(parents=True)
    (forms / "x" / "latin.json").write_bytes('{"title": "Révision"}'.encode("latin-1"))
    (forms / "x" / "digits.json").write_text('{"maxLength": ' + "9" * 5000 + "}", encoding="utf-8")
    (forms / "x" / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    (forms / "x" / "nan.json").write_text('{"type": "number", "maximum": NaN}', encoding="utf-8")
    (forms / "x" / "nul.json").write_text('{"title": "a\\u0000b"}', encoding="utf-8")
    (tmp_path / "looks_like.dmn").mkdir()
    tasks = "".join(
        f'<bpmn:userTask id="u_{name}"><bpmn:extensionElements><spiffworkflow:properties>'
        f'<spiffworkflow:property name="form" value="x/{name}.json"/>'
        f"</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>"
        for name in ("latin", "digits", "deep", "nan", "nul")
    )
    path = tmp_path / "forms_test.bpmn"
    path.write_text(
        process_file(
            tasks + '<bpmn:businessRuleTask id="rule"><bpmn:extensionElements>'
            "<spiffworkflow:calledDecisionId>d</spiffworkflow:calledDecisionId></bpmn:extensionElements>"
            "</bpmn:businessRuleTask>"
        ),
        encoding="utf-8",
    )
    bundle = load_bundle(path, forms)
    assert set(bundle.form_errors) == {f"x/{name}.json" for name in ("latin", "digits", "deep", "nan", "nul")}
    messages: dict[str, str] = {}
    for problem in check(bundle):
        messages[problem.element_id] = messages.get(problem.element_id, "") + problem.message + "\n"
    assert "form 'x/latin.json' is not valid JSON: the file is not UTF-8" in messages["u_latin"]
    assert "form 'x/digits.json' is not valid JSON" in messages["u_digits"]
    assert "form 'x/deep.json' is not valid JSON" in messages["u_deep"]
    assert "NaN is not a JSON value" in messages["u_nan"]
    assert "NUL character" in messages["u_nul"]


def test_deploy_takes_the_executable_pool_and_refuses_the_rest(motcua):
    """Deployment runs the same checks: the right process is stored, refused files store nothing."""
    definition = motcua.deploy_file(INTERCHANGE / "collaboration_three_pools.bpmn")
    assert definition.process_id == "ix_desk_permit"
    assert definition.lanes == {
        "Cán bộ một cửa": {"role": "officer", "agency": "receiving"},
        "Lãnh đạo": {"role": "leader", "agency": "resolving"},
    }
    # Regression: in unflagged_pool_first, the described pool without isExecutable came first and
    # was deployed instead of the executable one.
    for name, process_id in PASSING.items():
        assert motcua.deploy_file(INTERCHANGE / name).process_id == process_id
    # Regression: these passed the check, then failed while being stored.
    for name in ("latin1_encoding.bpmn", "utf16_doctype.bpmn", "process_without_id.bpmn", *REFUSED, *MODELS):
        with pytest.raises(DefinitionInvalid) as refused:
            motcua.deploy_file(INTERCHANGE / name)
        assert refused.value.problems == motcua.check_file(INTERCHANGE / name)
    with transaction(motcua.sessions) as session:
        stored = set(session.scalars(select(ProcessDefinition.process_id)).all())
    assert {p for p in stored if p.startswith("ix_")} == set(PASSING.values())


def test_check_command_prints_each_element_and_sets_the_exit_code(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTCUA_HOME", str(tmp_path))
    monkeypatch.delenv("MOTCUA_DATABASE_URL", raising=False)
    monkeypatch.delenv("MOTCUA_PROCESSES", raising=False)
    runner = CliRunner()
    passing = INTERCHANGE / "collaboration_three_pools.bpmn"
    ok = runner.invoke(cli, ["process", "check", str(passing)])
    assert ok.exit_code == 0, ok.output
    refused = INTERCHANGE / "collaboration_unsupported.bpmn"
    result = runner.invoke(cli, ["process", "check", str(refused)])
    assert result.exit_code == 1
    lines = element_lines(refused)
    printed = [line for line in result.output.splitlines() if line.startswith(f"{refused}:")]
    assert len(printed) == len(REFUSED[refused.name])
    for line, (element_id, fragment) in zip(printed, REFUSED[refused.name], strict=True):
        number = min(lines[element_id])
        assert line.startswith(f"{refused}:{number}: {element_id}: ") and fragment in line, line
    model = runner.invoke(cli, ["process", "check", str(INTERCHANGE / "descriptive_model.bpmn")])
    assert model.exit_code == 1 and "model only, not runnable" in model.output


# -- mutations ----------------------------------------------------------------------------------

_ELEMENTS = [
    b"task", b"userTask", b"serviceTask", b"scriptTask", b"subProcess", b"startEvent", b"endEvent",
    b"boundaryEvent", b"sequenceFlow", b"process", b"lane", b"laneSet", b"flowNodeRef",
    b"exclusiveGateway", b"callActivity", b"timerEventDefinition", b"messageEventDefinition",
    b"extensionElements", b"definitions", b"participant", b"message", b"script",
]  # fmt: skip
_ATTRIBUTES = b"id|sourceRef|targetRef|attachedToRef|default|messageRef|calledElement|processRef"
_ATTRIBUTES += b"|isExecutable|name|value"
_REFERENCES = rb"(\s(?:" + _ATTRIBUTES + rb')=")([^"]*)"'


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


def _delete_attribute(rng: random.Random, data: bytes) -> bytes:
    found = list(re.finditer(rb'\s[\w:.-]+="[^"]*"', data))
    if not found:
        return data
    match = rng.choice(found)
    return data[: match.start()] + data[match.end() :]


def _swap_element_names(rng: random.Random, data: bytes) -> bytes:
    old, new = rng.sample(_ELEMENTS, 2)
    count = rng.choice([0, 1, 2])  # all (stays well-formed), or only the first opening tags
    return re.sub(rb"(</?(?:bpmn:)?)" + old + rb"\b", rb"\g<1>" + new, data, count=count)


def _remove_closing_tag(rng: random.Random, data: bytes) -> bytes:
    found = list(re.finditer(rb"</[^>]+>", data))
    if not found:
        return data
    match = rng.choice(found)
    return data[: match.start()] + data[match.end() :]


def _inject_entities(rng: random.Random, data: bytes) -> bytes:
    declaration = rng.choice(
        [
            b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
            b'<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
            b"<!doctype d>",
        ]
    )
    position = data.find(b"?>") + 2 if b"?>" in data else 0
    return data[:position] + declaration + data[position:].replace(b'name="', b'name="&x;', 1)


def _huge_value(rng: random.Random, data: bytes) -> bytes:
    found = list(re.finditer(_REFERENCES, data))
    if not found:
        return data
    match = rng.choice(found)
    return data[: match.start(2)] + rng.choice([b"A", b"\xc3\xa9", b" x"]) * 200_000 + data[match.end(2) :]


def _non_utf8(rng: random.Random, data: bytes) -> bytes:
    position = rng.randrange(len(data))
    return data[:position] + bytes([rng.choice([0xFF, 0xC3, 0x80, 0xFE, 0x00])]) + data[position:]


def _retarget(rng: random.Random, data: bytes) -> bytes:
    found = list(re.finditer(_REFERENCES, data))
    if not found:
        return data
    match = rng.choice(found)
    value = rng.choice([b"", b"ghost", b"true", b"1", b"x y", rng.choice(found).group(2)])
    return data[: match.start(2)] + value + data[match.end(2) :]


def _drop_line(rng: random.Random, data: bytes) -> bytes:
    lines = data.split(b"\n")
    del lines[rng.randrange(len(lines))]
    return b"\n".join(lines)


_MUTATIONS = [
    _truncate, _delete_attribute, _swap_element_names, _remove_closing_tag, _inject_entities,
    _huge_value, _non_utf8, _retarget, _drop_line,
]  # fmt: skip


def test_mutated_files_never_crash_the_checker(check, tmp_path):
    """A few hundred deterministic mutations of the shipped processes and the fixtures: the checker
    returns findings (or nothing, for a harmless change), and loading the file never raises."""
    rng = random.Random(20260302)
    sources = [(p, load_bundle(p, FORMS)) for p in [*SHIPPED, *FIXTURES]]
    for dmn in SHIPPED[0].parent.glob("*.dmn"):  # the shipped processes' decisions, beside the copies
        (tmp_path / dmn.name).write_bytes(dmn.read_bytes())
    outcomes = {"clean": 0, "refused": 0}
    for round_ in range(400):
        path, bundle = rng.choice(sources)
        data = path.read_bytes()
        applied = [rng.choice(_MUTATIONS) for _ in range(rng.choice([1, 1, 2, 3]))]
        for mutate in applied:
            if data:
                data = mutate(rng, data)
        mutated = tmp_path / path.name
        mutated.write_bytes(data)
        context = f"round {round_}: {[m.__name__ for m in applied]} on {path.name}"
        try:
            for candidate in (load_bundle(mutated, FORMS), replace(bundle, bpmn=data)):
                problems = check(candidate)
        except Exception as err:  # noqa: BLE001 - report which mutation broke the checker
            pytest.fail(f"{context}: {type(err).__name__}: {err}")
        assert_well_formed(problems, path.name)
        outcomes["refused" if problems else "clean"] += 1
    assert outcomes["refused"] > 0 and outcomes["clean"] > 0, outcomes


def process_file(body: str) -> str:
    """An executable process around `body`, with the namespaces the snippets use."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
        ' xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'
        ' id="Defs_generated" targetNamespace="https://motcua.example/generated">\n'
        f'<bpmn:process id="generated" isExecutable="true">\n{body}\n</bpmn:process>\n</bpmn:definitions>\n'
    )


def test_reserved_step_ids_are_refused_where_they_would_vanish(motcua, tmp_path):
    # SpiffWorkflow's own start and end steps are called Start and End: an element with one of
    # these ids would be replaced by them and never run.
    source = (Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "mini.bpmn").read_text()
    path = tmp_path / "reserved.bpmn"
    first_task = re.search(r'<bpmn:userTask id="([^"]+)"', source).group(1)
    path.write_text(source.replace(f'"{first_task}"', '"End"').replace(f">{first_task}<", ">End<"))
    problems = motcua.check_file(path)
    assert any(p.element_id == "End" and "reserved" in p.message for p in problems), problems

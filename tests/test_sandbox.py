"""The script sandbox: what it refuses, what it allows, and how its errors leave SpiffWorkflow."""

from __future__ import annotations

import pathlib
import random
import sys
import threading
import time
import uuid
from typing import Any
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.errors import InvalidAction, ScriptFailed, ScriptRejected, ScriptTimeout
from engine.sandbox import (
    SAFE_BUILTIN_NAMES,
    SCRIPT_FILENAME,
    SandboxEnvironment,
    SandboxScriptEngine,
    check_source,
    unwrap_script_error,
)


def fee(amount: float) -> float:
    """A provided function, as the engine would expose one."""
    return round(amount * 0.1, 2)


@pytest.fixture
def env() -> SandboxEnvironment:
    return SandboxEnvironment({"fee": fee}, time_limit=0.5)


def plain_exec(env: SandboxEnvironment, source: str) -> None:
    """Run code compiled WITHOUT the static checks in the sandbox globals: proves the run-time
    safety net holds even if a static check were missed."""
    exec(compile(source, SCRIPT_FILENAME, "exec"), env.restricted_globals())


# -- refused ----------------------------------------------------------------------------------


def test_import_is_refused_statically() -> None:
    assert check_source("import os", "exec") == ["line 1: import statements are not allowed"]
    assert check_source("x = 1\nfrom os import path", "exec") == ["line 2: import statements are not allowed"]
    assert check_source("__import__('os')", "eval")


def test_import_is_refused_when_executed(env: SandboxEnvironment) -> None:
    data: dict[str, Any] = {"x": 0}
    with pytest.raises(ScriptRejected, match="line 2: import statements are not allowed"):
        env.execute("x = 1\nimport os", data)
    assert data == {"x": 0}  # nothing ran
    # Safety net: the sandbox builtins have no __import__ at all.
    with pytest.raises(ImportError):
        plain_exec(env, "import os")


def test_open_is_refused(env: SandboxEnvironment) -> None:
    assert check_source("open('/etc/passwd')", "eval") == ['line 1: "open" is not allowed']
    with pytest.raises(ScriptRejected, match='"open" is not allowed'):
        env.evaluate("open('/etc/passwd').read()", {})
    with pytest.raises(NameError):
        plain_exec(env, "open('/etc/passwd')")


def test_subclass_walk_is_refused(env: SandboxEnvironment) -> None:
    source = "().__class__.__base__.__subclasses__()"
    problems = check_source(source, "eval")
    assert any('"__class__"' in p for p in problems)
    assert all(p.startswith("line 1: ") for p in problems)
    with pytest.raises(ScriptRejected, match="__class__"):
        env.evaluate(source, {})
    # Safety net: the attribute guard refuses it too.
    guard = env.restricted_globals()["_getattr_"]
    with pytest.raises(Exception, match="not allowed"):
        guard((), "__class__")


def test_getattr_and_friends_are_refused(env: SandboxEnvironment) -> None:
    assert check_source("getattr(x, '__class__')", "eval") == ['line 1: "getattr" is not allowed']
    for name in ("eval", "exec", "compile", "type", "globals", "vars"):
        assert check_source(f"{name}('1')", "eval"), name
    builtins = env.restricted_globals()["__builtins__"]
    assert set(builtins) == SAFE_BUILTIN_NAMES
    with pytest.raises(NameError):
        plain_exec(env, "getattr(1, 'real')")


def test_format_cannot_walk_attributes(env: SandboxEnvironment) -> None:
    assert check_source("'{0.__class__}'.format(1)", "eval")
    assert check_source("str.format_map('{a}', {})", "eval")


def test_try_and_classes_are_refused() -> None:
    # An except/finally clause could swallow the time-limit interruption.
    assert check_source("try:\n    x = 1\nexcept:\n    pass", "exec") == [
        "line 1: try statements are not allowed"
    ]
    assert check_source("class A:\n    pass", "exec") == ["line 1: class definitions are not allowed"]
    assert check_source("print('x')", "exec") == ['line 1: "print" is not allowed']


def test_exposing_a_module_or_class_is_refused() -> None:
    with pytest.raises(ValueError, match="exposing a module"):
        SandboxEnvironment({"uuid": uuid})
    with pytest.raises(ValueError, match="exposing a module"):
        SandboxScriptEngine({"random": random})
    with pytest.raises(ValueError, match="is a class"):
        SandboxEnvironment({"Path": pathlib.Path})
    with pytest.raises(ValueError, match="plain function"):
        SandboxEnvironment({"rng": random.Random()})
    with pytest.raises(ValueError, match="_"):
        SandboxEnvironment({"_hidden": fee})


def test_function_globals_cannot_be_read(env: SandboxEnvironment) -> None:
    assert check_source("fee.__globals__", "eval")
    with pytest.raises(ScriptRejected):
        env.evaluate("fee.__globals__['sys']", {})
    # Safety net: a provided function has no attributes at all as far as a script can tell.
    guard = env.restricted_globals()["_getattr_"]
    for name in ("__globals__", "__module__", "globals"):
        with pytest.raises(Exception, match="not"):
            guard(fee, name)
    with pytest.raises(Exception, match="not"):
        guard((x for x in ()), "gi_frame")


def test_endless_loop_is_stopped_by_the_time_limit(env: SandboxEnvironment) -> None:
    started = time.monotonic()
    with pytest.raises(ScriptTimeout, match="line 2"):
        env.execute("x = 1\nwhile True: pass", {})
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 1.0  # limit 0.5 s, must stop within 2x


def test_time_limit_works_in_a_worker_thread_and_restores_the_tracer(
    env: SandboxEnvironment,
) -> None:
    outcome: list[BaseException | None] = []

    def worker() -> None:
        try:
            env.evaluate("[i for i in range(1000000) for j in range(1000000)]", {})
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion below
            outcome.append(exc)

    thread = threading.Thread(target=worker)
    started = time.monotonic()
    thread.start()
    thread.join(timeout=5)
    assert isinstance(outcome[0], ScriptTimeout)
    assert time.monotonic() - started < 1.0

    def previous_tracer(frame: Any, event: str, arg: Any) -> None:
        return None

    old = sys.gettrace()
    sys.settrace(previous_tracer)
    try:
        assert env.evaluate("1 + 1", {}) == 2
        with pytest.raises(ScriptTimeout):
            env.execute("while True:\n    pass", {})
        assert sys.gettrace() is previous_tracer
    finally:
        sys.settrace(old)


def test_huge_work_inside_one_builtin_is_refused(env: SandboxEnvironment) -> None:
    started = time.monotonic()
    with pytest.raises(ScriptRejected, match="range"):
        env.evaluate("sum(range(10**12))", {})
    with pytest.raises(ScriptRejected, match="bits"):
        env.evaluate("2 ** 10 ** 9", {})
    with pytest.raises(ScriptRejected, match="sequence"):
        env.evaluate("'a' * 10**9", {})
    with pytest.raises(ScriptRejected, match="sequence"):
        env.execute("x = [0]\nx *= 10**9", {})
    assert time.monotonic() - started < 0.5
    assert env.evaluate("sum(range(1000))", {}) == 499500


def test_exception_in_script_is_script_failed_with_line(env: SandboxEnvironment) -> None:
    with pytest.raises(ScriptFailed) as info:
        env.execute("a = 1\nb = a / 0\nc = 2", {})
    message = str(info.value)
    assert "line 2" in message
    assert "ZeroDivisionError" in message and "division by zero" in message
    assert isinstance(info.value.__cause__, ZeroDivisionError)

    with pytest.raises(ScriptFailed, match="line 1.*NameError.*missing"):
        env.evaluate("missing > 1", {})


def test_domain_errors_from_provided_functions_pass_through() -> None:
    def reschedule() -> str:
        raise InvalidAction("a dossier may be re-appointed only once")

    env = SandboxEnvironment({"reschedule": reschedule})
    with pytest.raises(InvalidAction, match="only once"):
        env.execute("x = 1\nat = reschedule()", {})


# -- allowed ----------------------------------------------------------------------------------


def test_ordinary_scripts_work(env: SandboxEnvironment) -> None:
    data: dict[str, Any] = {
        "applicant": {"name": "Nguyễn Văn An", "age": 34},
        "items": [{"price": 40}, {"price": 75}],
        "count": 1,
    }
    env.execute(
        "\n".join(
            [
                "name = applicant['name']",
                "applicant['checked'] = True",
                "count += 1",
                "label = 'HS'",
                "label += '-01'",
                "tags = []",
                "tags += ['urgent']",
                "prices = [item['price'] for item in items if item['price'] > 0]",
                "by_price = {p: i for i, p in enumerate(prices)}",
                "total = sum(prices)",
                "charge = fee(total)",
                "first, second = prices",
                'summary = f"{name.upper()} nộp {len(items)} món, tổng {total:.2f}"',
                "def double(v):",
                "    return v * 2",
                "doubled = double(total)",
                "ordered = sorted(prices, key=lambda p: -p)",
                "kinds = {'a', 'b'}",
            ]
        ),
        data,
    )
    assert data["name"] == "Nguyễn Văn An"
    assert data["applicant"]["checked"] is True
    assert data["count"] == 2
    assert data["label"] == "HS-01"
    assert data["tags"] == ["urgent"]
    assert data["prices"] == [40, 75]
    assert data["by_price"] == {40: 0, 75: 1}
    assert data["total"] == 115
    assert data["charge"] == 11.5
    assert (data["first"], data["second"]) == (40, 75)
    assert data["summary"] == "NGUYỄN VĂN AN nộp 2 món, tổng 115.00"
    assert data["doubled"] == 230
    assert data["ordered"] == [75, 40]
    # Functions (provided or defined in the script), guards and non-data values stay out of
    # the task data, so it remains JSON (trap 5).
    for name in ("double", "fee", "kinds", "__builtins__", "_getattr_"):
        assert name not in data


def test_evaluate_reads_task_data_and_external_context(env: SandboxEnvironment) -> None:
    data = {"applicant": {"age": 20}, "channel": "online"}
    assert env.evaluate("applicant['age'] >= 18 and channel == 'online'", data) is True
    assert env.evaluate("dmninputexpr > 5", data, {"dmninputexpr": 7}) is True
    assert env.evaluate("fee(100)", data) == 10.0
    assert data == {"applicant": {"age": 20}, "channel": "online"}


def test_del_removes_task_data(env: SandboxEnvironment) -> None:
    data: dict[str, Any] = {"scratch": 1, "keep": 2}
    env.execute("del scratch", data)
    assert data == {"keep": 2}


def test_non_data_nested_in_task_data_is_reported(env: SandboxEnvironment) -> None:
    data: dict[str, Any] = {"items": []}
    with pytest.raises(ScriptFailed, match=r"items\[0\]"):
        env.execute("items.append(fee)", data)


def test_data_may_not_hide_a_provided_function(env: SandboxEnvironment) -> None:
    with pytest.raises(ScriptRejected, match="fee"):
        env.execute("x = 1", {"fee": 3})


def test_validate_keeps_the_dmn_contract() -> None:
    engine = SandboxScriptEngine()
    engine.validate("amount > 5")
    # DMN probes unary cells such as '> 5' and expects a SyntaxError for them.
    with pytest.raises(SyntaxError):
        engine.validate("> 5")
    with pytest.raises(ScriptRejected):
        engine.validate("> 5")
    with pytest.raises(ScriptRejected) as info:
        engine.validate("import os")
    assert not isinstance(info.value, SyntaxError)


def test_unwrap_finds_our_error_behind_a_wrapper() -> None:
    try:
        try:
            raise ScriptFailed("line 1: ZeroDivisionError: division by zero")
        except ScriptFailed as inner:
            raise RuntimeError("Failed to execute DMN Rule on row 1") from inner
    except RuntimeError as outer:
        found = unwrap_script_error(outer)
    assert isinstance(found, ScriptFailed)
    assert unwrap_script_error(ValueError("unrelated")) is None


# -- end to end through SpiffWorkflow ---------------------------------------------------------

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    id="defs" targetNamespace="http://example.org/motcua">
  <bpmn:process id="order" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="script" name="Compute">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="gateway"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>to_big</bpmn:outgoing><bpmn:outgoing>to_small</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="big"><bpmn:incoming>to_big</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="small"><bpmn:incoming>to_small</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="script"/>
    <bpmn:sequenceFlow id="f2" sourceRef="script" targetRef="gateway"/>
    <bpmn:sequenceFlow id="to_big" sourceRef="gateway" targetRef="big">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"
        >total &gt; 100</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_small" sourceRef="gateway" targetRef="small">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"
        >total &lt;= 100</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>
"""

GOOD_SCRIPT = "total = sum(item['price'] for item in items)\ncharge = fee(total)"


def make_workflow(script: str, engine: SandboxScriptEngine) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(BPMN.format(script=escape(script)).encode("utf-8"))
    return BpmnWorkflow(parser.get_spec("order"), script_engine=engine)


def advance_to(workflow: BpmnWorkflow, bpmn_id: str, data: dict[str, Any]) -> None:
    """Run ready tasks one by one until `bpmn_id` is the next one, so the state can be saved
    right before it runs."""
    first = True
    while True:
        task = workflow.get_next_task(state=TaskState.READY)
        assert task is not None
        if first:
            task.data.update(data)
            first = False
        if task.task_spec.bpmn_id == bpmn_id:
            return
        task.run()


def script_task(workflow: BpmnWorkflow) -> Any:
    return next(t for t in workflow.get_tasks() if t.task_spec.bpmn_id == "script")


def finished_ends(workflow: BpmnWorkflow) -> set[str]:
    return {
        t.task_spec.bpmn_id
        for t in workflow.get_tasks(state=TaskState.COMPLETED)
        if t.task_spec.bpmn_id in ("big", "small")
    }


@pytest.fixture
def serializer() -> BpmnWorkflowSerializer:
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


@pytest.mark.parametrize(("prices", "route"), [([60, 70], "big"), ([10, 20], "small")])
def test_bpmn_script_and_gateway_run_in_the_sandbox(prices: list[int], route: str) -> None:
    engine = SandboxScriptEngine({"fee": fee}, time_limit=0.5)
    workflow = make_workflow(GOOD_SCRIPT, engine)
    workflow.get_next_task(state=TaskState.READY).data["items"] = [{"price": p} for p in prices]
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert finished_ends(workflow) == {route}
    assert workflow.data["total"] == sum(prices)
    assert "fee" not in workflow.data


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ("total = 1\nimport os", ScriptRejected),
        ("total = 1\nwhile True: pass", ScriptTimeout),
        ("total = 1\ntotal = total / 0", ScriptFailed),
    ],
)
def test_failing_script_leaves_the_case_restorable(
    script: str, error: type[Exception], serializer: BpmnWorkflowSerializer
) -> None:
    engine = SandboxScriptEngine({"fee": fee}, time_limit=0.5)
    workflow = make_workflow(script, engine)
    advance_to(workflow, "script", {"items": [{"price": 5}]})
    assert script_task(workflow).state == TaskState.READY
    snapshot = serializer.serialize_json(workflow)

    started = time.monotonic()
    with pytest.raises(error) as info:
        workflow.do_engine_steps()
    assert time.monotonic() - started < 1.0
    # Our own exception, unchanged, naming the line and the task.
    assert type(info.value) is error
    assert "line 2" in str(info.value)
    assert info.value.bpmn_id == "script"  # type: ignore[attr-defined]
    # SpiffWorkflow marks the task as failed in memory: that copy is not to be saved.
    assert script_task(workflow).state == TaskState.ERROR

    restored = serializer.deserialize_json(snapshot)
    restored.script_engine = engine
    task = script_task(restored)
    assert task.state == TaskState.READY
    assert "total" not in task.data and task.data["items"] == [{"price": 5}]
    assert not finished_ends(restored)
    # Still deterministic after the restore: the same definition fails the same way.
    with pytest.raises(error):
        restored.do_engine_steps()


def test_failing_gateway_condition_raises_our_error() -> None:
    engine = SandboxScriptEngine({"fee": fee}, time_limit=0.5)
    workflow = make_workflow("charge = 1", engine)  # 'total' is never set
    with pytest.raises(ScriptFailed, match="NameError.*total") as info:
        workflow.do_engine_steps()
    assert info.value.bpmn_id == "gateway"  # type: ignore[attr-defined]

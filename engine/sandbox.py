"""Restricted execution of BPMN scripts and expressions.

SpiffWorkflow runs script tasks, gateway conditions, timer expressions, DMN cells and message
payload expressions with plain ``exec``/``eval`` in our own process. Process files are written by
designers, not by the engine's developers, so everything they contain is compiled here with
RestrictedPython instead and run with:

* only the builtins in ``SAFE_BUILTIN_NAMES`` and the functions the engine chooses to expose;
* the RestrictedPython guards on attribute access, item access, iteration, unpacking, writes and
  augmented assignment, plus our own guards on ``range`` and on the operators that can make a
  single C-level step arbitrarily expensive (``*``, ``**``, ``<<``);
* a time limit per evaluation, enforced with a per-thread trace function (no signals, so it works
  in the engine's worker threads).

See ``docs/sandbox.md`` for the rules as designers see them and for what the sandbox cannot stop.
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import keyword
import operator
import sys
import time
import types
from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)
from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    RestrictingNodeTransformer,
    copy_locations,
)
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from .errors import MotcuaError, ScriptFailed, ScriptRejected, ScriptTimeout

Mode = Literal["exec", "eval"]

# Every piece of sandboxed code is compiled under this file name. The time-limit tracer and the
# error reporter use it to tell script frames from engine frames, so it must not look like a
# real file and must differ from SpiffWorkflow's own '<string>'.
SCRIPT_FILENAME = "<bpmn-script>"

# A range (or sequence repetition) longer than this is refused: builtins such as sum(), max()
# or list() consume it in C, where the time-limit tracer never gets control.
MAX_RANGE_ITEMS = 1_000_000
MAX_SEQUENCE_ITEMS = 1_000_000
# Integers bigger than this (about 30 000 decimal digits) are refused for the same reason:
# '10 ** 10 ** 9' is one C call that would run for hours.
MAX_INT_BITS = 100_000

# How many compiled scripts to keep. Every case of a process runs the same few dozen snippets,
# so a modest cache removes compilation from the hot path without growing without bound.
COMPILE_CACHE_SIZE = 2048

SAFE_BUILTIN_NAMES: frozenset[str] = frozenset(
    {
        "len",
        "min",
        "max",
        "sum",
        "sorted",
        "str",
        "int",
        "float",
        "bool",
        "list",
        "dict",
        "set",
        "tuple",
        "range",
        "enumerate",
        "zip",
        "abs",
        "round",
        "any",
        "all",
        "isinstance",
        "True",
        "False",
        "None",
    }
)

# Names that are refused wherever they appear in a script, even as a plain variable. None of them
# is in the sandbox's builtins, so at run time they could only ever be task data; refusing them
# statically turns "I tried to use open()" into a clear deploy-time message instead of a
# NameError in the middle of a case.
FORBIDDEN_NAMES: frozenset[str] = frozenset(
    {
        "open",
        "eval",
        "exec",
        "compile",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "type",
        "globals",
        "locals",
        "vars",
        "dir",
        "help",
        "input",
        "breakpoint",
        "memoryview",
        "exit",
        "quit",
        "__import__",
        "__builtins__",
        "print",
        "printed",
    }
)

# Attributes refused on top of "starts with '_'": str.format/format_map walk attributes of
# their arguments inside C ('{0.__class__}'.format(x)), 'mro' hands out class objects, and the
# frame/code/generator attributes listed by RestrictedPython lead to other frames' globals.
FORBIDDEN_ATTRIBUTES: frozenset[str] = frozenset({"format", "format_map", "mro"}) | frozenset(
    INSPECT_ATTRIBUTES
)

# Attribute access is only allowed on plain data (and on the data classes themselves, for
# things like dict.fromkeys or str.join). Everything else -- functions, generators, objects a
# provided function might return -- has no attributes as far as a script is concerned, which
# closes whole families of escapes (function.__globals__, generator.gi_frame, ...) at once.
_ATTRIBUTE_SAFE_TYPES: frozenset[type] = frozenset(
    {
        str,
        bytes,
        int,
        float,
        bool,
        list,
        tuple,
        dict,
        set,
        frozenset,
        type({}.keys()),
        type({}.values()),
        type({}.items()),
    }
)
_ATTRIBUTE_SAFE_CLASSES: frozenset[type] = frozenset({str, int, float, bool, list, tuple, dict, set})

# What may be stored in task data: what JSON can represent (tuples become lists on the way).
_SCALAR_TYPES = (str, int, float, bool, type(None))
_CONTAINER_TYPES = (list, tuple, dict)
_MAX_DATA_DEPTH = 100


class ScriptSyntaxError(ScriptRejected, SyntaxError):
    """A script that does not even parse.

    It is a ``SyntaxError`` as well because SpiffWorkflow's DMN engine probes cells such as
    ``> 5`` with ``script_engine.validate()`` and relies on catching ``SyntaxError`` to decide
    whether to prepend the input expression.
    """


class _Refused(Exception):
    """Raised by a run-time guard; turned into ScriptRejected with the script line attached."""


class _TimeUp(BaseException):
    """Raised by the tracer when the time limit has passed.

    A BaseException so that a provided function with a broad ``except Exception`` cannot
    swallow it: the trace function is switched off by CPython as soon as it raises, so a
    swallowed timeout would leave the script running with no limit at all.
    """


# ---------------------------------------------------------------------------------------------
# Static checks: a RestrictedPython policy with our additional rules.
# ---------------------------------------------------------------------------------------------

_BINOP_SYMBOLS: dict[type[ast.operator], str] = {ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<"}


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus the motcua rules.

    RestrictedPython on its own allows imports (guarded at run time by ``__import__``), ``try``,
    ``with``, classes and ``print``; we refuse all of them statically so the designer gets the
    message at deploy time, and we route the expensive operators through ``_binop_``.
    """

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        # Called for variables, function and argument names alike.
        super().check_name(node, name, allow_magic_methods)
        if name is not None and not name.startswith("_") and name in FORBIDDEN_NAMES:
            self.error(node, f'"{name}" is not allowed')

    def visit_Name(self, node: ast.Name) -> Any:
        # RestrictedPython rewrites print/printed into a print collector before checking the
        # name; we offer no collector, so refuse them here with a plain message instead.
        if node.id in ("print", "printed"):
            self.error(node, f'"{node.id}" is not allowed')
            return node
        return super().visit_Name(node)

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if node.attr in ("format", "format_map", "mro"):
            self.error(node, f'the attribute "{node.attr}" is not allowed')
        return super().visit_Attribute(node)

    def visit_Import(self, node: ast.Import) -> Any:
        self.error(node, "import statements are not allowed")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        self.error(node, "import statements are not allowed")
        return node

    def visit_Try(self, node: ast.Try) -> Any:
        # An except/finally clause could swallow the time-limit interruption; after the first
        # interruption CPython switches tracing off, so the script would then run unbounded.
        self.error(node, "try statements are not allowed")
        return node

    def visit_TryStar(self, node: ast.AST) -> Any:
        self.error(node, "try statements are not allowed")
        return node

    def visit_With(self, node: ast.With) -> Any:
        self.error(node, "with statements are not allowed")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        # Classes would need a metaclass hook in the globals and are never task data anyway.
        self.error(node, "class definitions are not allowed")
        return node

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = super().visit_BinOp(node)
        symbol = _BINOP_SYMBOLS.get(type(node.op))
        if symbol is None:
            return node
        call = ast.Call(
            func=ast.Name("_binop_", ast.Load()),
            args=[ast.Constant(symbol), node.left, node.right],
            keywords=[],
        )
        copy_locations(call, node)
        return call


class _Compiled(NamedTuple):
    code: types.CodeType | None
    problems: tuple[str, ...]
    syntax_error: bool


# RestrictedPython reports these in addition to our own '"exec" is not allowed'.
_DUPLICATE_MESSAGES = ("Exec calls are not allowed.", "Eval calls are not allowed.")


def _normalise(message: str) -> str:
    """Make RestrictedPython's 'Line 3: ...' look like ours ('line 3: ...')."""
    if message.startswith("Line "):
        message = "line " + message[len("Line ") :]
    return message.removesuffix(".")


@functools.lru_cache(maxsize=COMPILE_CACHE_SIZE)
def _compile(source: str, mode: Mode) -> _Compiled:
    try:
        tree = ast.parse(source, SCRIPT_FILENAME, mode)
    except SyntaxError as exc:
        return _Compiled(None, (f"line {exc.lineno or 1}: syntax error: {exc.msg}",), True)
    except (ValueError, RecursionError, MemoryError) as exc:
        # Null bytes, absurd nesting: not worth a precise location.
        return _Compiled(None, (f"line 1: the script cannot be parsed: {exc}",), True)

    compiler = compile_restricted_exec if mode == "exec" else compile_restricted_eval
    try:
        result = compiler(tree, filename=SCRIPT_FILENAME, policy=_SandboxPolicy)
    except SyntaxError as exc:
        # Errors that only the bytecode compiler detects ('return' outside a function, ...).
        return _Compiled(None, (f"line {exc.lineno or 1}: syntax error: {exc.msg}",), True)
    except RecursionError:
        return _Compiled(None, ("line 1: the script is nested too deeply",), False)

    problems: list[str] = []
    for error in result.errors:
        if any(error.endswith(duplicate) for duplicate in _DUPLICATE_MESSAGES):
            continue
        message = _normalise(error)
        if message not in problems:
            problems.append(message)
    if problems or result.code is None:
        return _Compiled(None, tuple(problems) or ("line 1: the script cannot be compiled",), False)
    return _Compiled(result.code, (), False)


def check_source(source: str, mode: Mode) -> list[str]:
    """Static check used at deploy time: compile with RestrictedPython and return every problem
    as a readable message (with the line number inside the script when known), e.g.
    'line 1: import statements are not allowed'. Empty list = OK."""
    if mode not in ("exec", "eval"):
        raise ValueError(f"mode must be 'exec' or 'eval', not {mode!r}")
    if not isinstance(source, str):
        return [f"line 1: a script must be text, not {type(source).__name__}"]
    return list(_compile(source, mode).problems)


def _compile_or_reject(source: Any, mode: Mode) -> types.CodeType:
    if not isinstance(source, str):
        raise ScriptRejected(f"line 1: a script must be text, not {type(source).__name__}")
    compiled = _compile(source, mode)
    if compiled.code is None:
        error_class = ScriptSyntaxError if compiled.syntax_error else ScriptRejected
        raise error_class("; ".join(compiled.problems))
    return compiled.code


# ---------------------------------------------------------------------------------------------
# Run-time guards (the safety net behind the static checks).
# ---------------------------------------------------------------------------------------------


def _limited_range(*args: Any) -> range:
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:  # more items than fit in a C ssize_t
        size = sys.maxsize
    if size > MAX_RANGE_ITEMS:
        raise _Refused(f"range() of {size} items is over the limit of {MAX_RANGE_ITEMS}")
    return numbers


def _guarded_getattr(obj: Any, name: str) -> Any:
    if not isinstance(name, str):
        raise _Refused("attribute names must be text")
    if name.startswith("_") or name in FORBIDDEN_ATTRIBUTES:
        raise _Refused(f'the attribute "{name}" is not allowed')
    # Exact type checks on purpose: a subclass can define whatever attributes it likes.
    if type(obj) not in _ATTRIBUTE_SAFE_TYPES and not (type(obj) is type and obj in _ATTRIBUTE_SAFE_CLASSES):
        raise _Refused(f'attributes of {type(obj).__name__} objects are not available ("{name}")')
    # RestrictedPython's own checks still apply underneath ours. Its plain safer_getattr
    # returns None for a missing attribute; the raising variant keeps Python's AttributeError.
    return safer_getattr_raise(obj, name)


def _guarded_getitem(obj: Any, key: Any) -> Any:
    # Item access only reaches what a container holds, and every container a script can reach
    # holds data, so no restriction is needed beyond the attribute rules.
    return obj[key]


def _guarded_getiter(obj: Any) -> Any:
    return obj


def _apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    # RestrictedPython routes calls with *args/**kwargs through here.
    return function(*args, **kwargs)


def _check_operands(symbol: str, left: Any, right: Any) -> None:
    """Refuse operations that a single C call would spend seconds (or gigabytes) on."""
    if symbol == "*":
        for sequence, count in ((left, right), (right, left)):
            if isinstance(sequence, (str, bytes, list, tuple)) and isinstance(count, int):
                if len(sequence) * max(count, 0) > MAX_SEQUENCE_ITEMS:
                    raise _Refused(
                        f"repeating a sequence to more than {MAX_SEQUENCE_ITEMS} items is not allowed"
                    )
                return
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > MAX_INT_BITS
        ):
            raise _Refused(f"integers above {MAX_INT_BITS} bits are not allowed")
    elif symbol == "**":
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and abs(left) > 1
            and left.bit_length() * right > MAX_INT_BITS
        ):
            raise _Refused(f"integers above {MAX_INT_BITS} bits are not allowed")
    elif (
        symbol == "<<"
        and isinstance(left, int)
        and isinstance(right, int)
        and left != 0
        and left.bit_length() + right > MAX_INT_BITS
    ):
        raise _Refused(f"integers above {MAX_INT_BITS} bits are not allowed")


_BINARY_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "<<": operator.lshift,
}


def _guarded_binop(symbol: str, left: Any, right: Any) -> Any:
    _check_operands(symbol, left, right)
    return _BINARY_OPERATORS[symbol](left, right)


_INPLACE_OPERATORS: dict[str, tuple[str, Callable[[Any, Any], Any]]] = {
    "+=": ("+", operator.iadd),
    "-=": ("-", operator.isub),
    "*=": ("*", operator.imul),
    "/=": ("/", operator.itruediv),
    "//=": ("//", operator.ifloordiv),
    "%=": ("%", operator.imod),
    "**=": ("**", operator.ipow),
    "<<=": ("<<", operator.ilshift),
    ">>=": (">>", operator.irshift),
    "|=": ("|", operator.ior),
    "&=": ("&", operator.iand),
    "^=": ("^", operator.ixor),
}


def _guarded_inplacevar(op: str, target: Any, value: Any) -> Any:
    # RestrictedPython turns 'x += y' into 'x = _inplacevar_("+=", x, y)'. The operator module
    # keeps Python's semantics (a list is extended in place, a str or int gets a new object).
    if op not in _INPLACE_OPERATORS:
        raise _Refused(f"the operator {op} is not allowed")
    symbol, function = _INPLACE_OPERATORS[op]
    _check_operands(symbol, target, value)
    return function(target, value)


def _make_builtins() -> dict[str, Any]:
    safe = {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES}
    safe["range"] = _limited_range
    return safe


# ---------------------------------------------------------------------------------------------
# Time limit.
# ---------------------------------------------------------------------------------------------


class _Deadline:
    """A ``sys.settrace`` tracer that interrupts script frames once the deadline has passed.

    Only frames compiled from scripts are traced, and they are traced per opcode rather than per
    line: CPython 3.11 emits no line event for ``while True: pass`` (a jump to itself), so a
    line tracer would never get control. Engine code and provided functions run untraced and
    are not interrupted half-way; the script is stopped at its next instruction instead.
    """

    __slots__ = ("deadline", "expired")

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.expired = False

    def on_call(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != SCRIPT_FILENAME:
            return None
        frame.f_trace_opcodes = True
        self.on_event(frame, event, arg)
        return self.on_event

    def on_event(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if time.monotonic() > self.deadline:
            self.expired = True
            raise _TimeUp
        return self.on_event


# ---------------------------------------------------------------------------------------------
# Error reporting and task data hygiene.
# ---------------------------------------------------------------------------------------------


def _script_line(exc: BaseException, source: str) -> str:
    """'line N (`text`): ' for the innermost script frame in the traceback, or ''."""
    line_number = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == SCRIPT_FILENAME:
            line_number = tb.tb_lineno
        tb = tb.tb_next
    if line_number is None:
        return ""
    lines = source.splitlines()
    text = lines[line_number - 1].strip() if 0 < line_number <= len(lines) else ""
    return f"line {line_number} (`{text}`): " if text else f"line {line_number}: "


def _non_data_path(name: str, value: Any) -> str | None:
    """Where inside ``value`` something that is not JSON-like data sits, or None if all is data."""
    stack: list[tuple[str, Any, int]] = [(name, value, 0)]
    while stack:
        path, item, depth = stack.pop()
        if isinstance(item, _SCALAR_TYPES):
            continue
        if depth >= _MAX_DATA_DEPTH:
            return f"{path} (nested too deeply or refers to itself)"
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, (str, int, float, bool, type(None))):
                    return f"{path} (a key of type {type(key).__name__})"
                stack.append((f"{path}[{key!r}]", child, depth + 1))
        elif isinstance(item, (list, tuple)):
            for index, child in enumerate(item):
                stack.append((f"{path}[{index}]", child, depth + 1))
        else:
            return f"{path} (a {type(item).__name__})"
    return None


def _check_functions(functions: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    checked: dict[str, Callable[..., Any]] = {}
    for name, value in functions.items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"function name {name!r} is not a valid identifier")
        if name.startswith("_"):
            raise ValueError(f"function name {name!r} must not start with '_'")
        if name in FORBIDDEN_NAMES or name in SAFE_BUILTIN_NAMES:
            raise ValueError(f"function name {name!r} is reserved")
        if inspect.ismodule(value):
            raise ValueError(
                f"{name!r} is a module; exposing a module hands scripts everything it imports "
                "(uuid.os, random._os, ...). Expose plain functions only."
            )
        if inspect.isclass(value):
            raise ValueError(
                f"{name!r} is a class; a class leads to its bases and their subclasses. "
                "Expose plain functions only."
            )
        if not isinstance(
            value,
            (types.FunctionType, types.BuiltinFunctionType, types.MethodType, functools.partial),
        ):
            raise ValueError(f"{name!r} must be a plain function, not {type(value).__name__}")
        checked[name] = value
    return checked


# ---------------------------------------------------------------------------------------------
# SpiffWorkflow integration.
# ---------------------------------------------------------------------------------------------


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Drop-in replacement for SpiffWorkflow's ``TaskDataEnvironment``.

    ``self.globals`` holds the provided functions, exactly like TaskDataEnvironment, so
    SpiffWorkflow's notion of "predefined functions" (and the overwrite check) is unchanged.
    """

    def __init__(
        self,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        time_limit: float = 1.0,
    ):
        if not time_limit > 0:
            raise ValueError("time_limit must be a positive number of seconds")
        super().__init__(_check_functions(functions or {}))
        self.time_limit = float(time_limit)
        # Written last into every scope so task data can never replace a guard or the builtins.
        self._guards: dict[str, Any] = {
            "__builtins__": _make_builtins(),
            "_getattr_": _guarded_getattr,
            "_getitem_": _guarded_getitem,
            "_getiter_": _guarded_getiter,
            "_write_": full_write_guard,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_inplacevar_": _guarded_inplacevar,
            "_apply_": _apply,
            "_binop_": _guarded_binop,
        }

    def restricted_globals(self) -> dict[str, Any]:
        """A fresh globals dict with the provided functions, safe builtins and guards only."""
        scope = dict(self.globals)
        scope.update(self._guards)
        return scope

    def evaluate(
        self,
        expression: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> Any:
        # Same layering as TaskDataEnvironment: functions, then external context, then task
        # data; our guards on top of everything.
        code = _compile_or_reject(expression, "eval")
        scope = dict(self.globals)
        scope.update(external_context or {})
        scope.update(context)
        scope.update(self._guards)
        return self._run(code, scope, expression, "eval")

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> bool:
        code = _compile_or_reject(script, "exec")
        external = dict(external_context or {})
        self.check_for_overwrite(context, external)
        # The script runs in a separate dict rather than in the task data itself (which is what
        # TaskDataEnvironment does): guards and functions then never touch the data, data keys
        # can never shadow a guard, and a script that fails half-way leaves its top-level
        # assignments unapplied.
        before = dict(context)
        scope = dict(self.globals)
        scope.update(external)
        scope.update(context)
        scope.update(self._guards)
        self._run(code, scope, script, "exec")
        self._store(context, before, scope, external)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise ScriptRejected("service tasks are not supported")

    def check_for_overwrite(self, context: Mapping[str, Any], external_context: Any) -> None:
        """SpiffWorkflow's rule (data may not hide a provided function), as one of our errors."""
        clashes = (set(self.globals) | set(external_context)) & set(context)
        if clashes:
            names = ", ".join(sorted(clashes))
            raise ScriptRejected(f"task data overwrites predefined function(s) {names}; rename the field(s)")

    def _run(self, code: types.CodeType, scope: dict[str, Any], source: str, mode: Mode) -> Any:
        deadline = _Deadline(self.time_limit)
        # Tracing is per thread, so this neither needs the main thread (unlike signal.alarm)
        # nor affects cases running in other worker threads. A tracer already installed (a
        # debugger, coverage) is suspended for the script and put back afterwards.
        previous = sys.gettrace()
        sys.settrace(deadline.on_call)
        try:
            if mode == "eval":
                result = eval(code, scope)
            else:
                exec(code, scope)
                result = None
        except _TimeUp as exc:
            raise ScriptTimeout(
                f"{_script_line(exc, source)}stopped after the time limit of {self.time_limit:g} s"
            ) from None
        except _Refused as exc:
            raise ScriptRejected(f"{_script_line(exc, source)}{exc}") from None
        except MotcuaError as exc:
            # A domain error from a provided function (InvalidAction from reschedule(), ...) or
            # from a nested sandbox run: it already says what is wrong in the caller's terms,
            # so it passes through unchanged, with a note saying where the script called it.
            where = _script_line(exc, source)
            if where:
                exc.add_note(f"raised from script {where.rstrip(': ')}")
            raise
        except Exception as exc:
            raise ScriptFailed(f"{_script_line(exc, source)}{type(exc).__name__}: {exc}") from exc
        finally:
            sys.settrace(previous)
        if deadline.expired:
            # The interruption was swallowed somewhere (a provided function catching
            # BaseException) and the script still finished: it ran too long all the same.
            raise ScriptTimeout(f"stopped after the time limit of {self.time_limit:g} s")
        return result

    def _store(
        self,
        context: dict[str, Any],
        before: Mapping[str, Any],
        scope: Mapping[str, Any],
        external: Mapping[str, Any],
    ) -> None:
        """Copy the script's variables back into the task data, keeping it JSON-friendly."""
        reserved = set(self._guards) | set(self.globals) | set(external)
        updates: dict[str, Any] = {}
        removals: list[str] = []
        for name, value in scope.items():
            if name in reserved or name.startswith("_"):
                continue
            unchanged = name in before and before[name] is value
            if not isinstance(value, _SCALAR_TYPES + _CONTAINER_TYPES):
                # Helper functions, lambdas, generators, sets...: scratch values of the
                # script. Left in task data they break JSON and deep copies later (trap 5),
                # so they are dropped -- unless they were already there before the script.
                if not unchanged:
                    removals.append(name)
                continue
            # Containers are checked even when the binding is unchanged, because a script can
            # put a function into an existing list or dict in place.
            problem = _non_data_path(name, value)
            if problem is not None:
                raise ScriptFailed(
                    f"{problem} cannot be stored in task data; only text, numbers, booleans, "
                    "None, lists and dicts can"
                )
            if not unchanged:
                updates[name] = value
        for name in before:
            if name not in scope and not name.startswith("_"):
                removals.append(name)  # 'del name' in the script
        for name in removals:
            context.pop(name, None)
        context.update(updates)


def _note_task(exc: BaseException, task: Any) -> None:
    """Say which task the error came from without changing the exception's type or message."""
    spec = getattr(task, "task_spec", None)
    bpmn_id = getattr(spec, "bpmn_id", None) or getattr(spec, "name", None)
    bpmn_name = getattr(spec, "bpmn_name", None)
    if not hasattr(exc, "bpmn_id"):
        exc.bpmn_id = bpmn_id  # type: ignore[attr-defined]
        exc.add_note(f"in task {bpmn_id}" + (f" ({bpmn_name})" if bpmn_name else ""))


class SandboxScriptEngine(PythonScriptEngine):
    """PythonScriptEngine that runs everything in a ``SandboxEnvironment``.

    ``evaluate`` and ``execute`` are overridden so our errors (every ``MotcuaError``) leave
    SpiffWorkflow unchanged: the base class would replace them with a ``WorkflowTaskException``
    (and, for scripts, a message built from ``args[0]`` only), hiding the type callers need to
    recognise. The exception gets a ``bpmn_id`` attribute and a note naming the task instead.
    Nothing between the engine and ``do_engine_steps()`` re-wraps them, except the DMN engine;
    see ``unwrap_script_error``.
    """

    def __init__(
        self,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        time_limit: float = 1.0,
    ):
        super().__init__(environment=SandboxEnvironment(functions, time_limit))

    def validate(self, expression: str, mode: Mode = "exec") -> None:
        """Raise ScriptRejected listing every problem (ScriptSyntaxError if it does not parse).

        The default mode matches the base class (``ast.parse`` in exec mode), which accepts
        expressions as well as statements.
        """
        _compile_or_reject(expression, mode)

    def evaluate(self, task: Any, expression: str, external_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except MotcuaError as exc:
            _note_task(exc, task)
            raise
        except SpiffWorkflowException as exc:
            exc.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as exc:
            raise WorkflowTaskException(
                f"Error evaluating expression '{expression}'", task=task, exception=exc
            ) from exc

    def execute(self, task: Any, script: str, external_context: Mapping[str, Any] | None = None) -> bool:
        try:
            return self.environment.execute(script, task.data, external_context or {})
        except MotcuaError as exc:
            _note_task(exc, task)
            raise
        except SpiffWorkflowException:
            raise
        except Exception as exc:
            raise WorkflowTaskException(f"{type(exc).__name__}: {exc}", task=task, exception=exc) from exc

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        # The base implementation's error path raises NameError (trap 7); service tasks are
        # outside the dialect anyway.
        raise ScriptRejected("service tasks are not supported")


def unwrap_script_error(exc: BaseException) -> MotcuaError | None:
    """The motcua error behind ``exc`` (a sandbox error or a provided function's domain error).

    Script tasks, pre/post scripts, gateway conditions, timers and message payloads raise our
    errors unchanged, so this returns ``exc`` itself for them. DMN evaluation does not: the
    DMN engine catches every exception and raises a ``WorkflowTaskException`` in its place,
    so ours is only reachable through ``__cause__``/``__context__``; callers that run
    business-rule tasks use this to recover it.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, MotcuaError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None

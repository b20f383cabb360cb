"""Domain errors. Every error the engine raises on bad input or a lost race is one of these,
so callers (CLI, web, adapters) can map them to a clear message without a stack trace."""

from __future__ import annotations

from dataclasses import dataclass


class MotcuaError(Exception):
    """Base of every domain error."""


@dataclass(frozen=True)
class Problem:
    """One finding about a definition file, pinned to where it is."""

    file: str
    line: int
    element_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.element_id or '-'}: {self.message}"


class DefinitionInvalid(MotcuaError):
    """A BPMN/DMN file (or a set of them) cannot be deployed; `problems` says why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ScriptRejected(MotcuaError):
    """A script or expression breaks the sandbox rules (checked before it runs)."""


class ScriptTimeout(MotcuaError):
    """A script or expression ran past its time limit and was stopped."""


class ScriptFailed(MotcuaError):
    """A script or expression raised while running; the case was left as it was."""


class NotFound(MotcuaError):
    """A case, task, procedure, agency or definition that does not exist."""


class CaseConflict(MotcuaError):
    """Someone else changed the case first; reload and try again (HTTP 409)."""


class PermissionDenied(MotcuaError):
    """The actor's role or agency does not allow this action."""


class FormInvalid(MotcuaError):
    """Task data does not satisfy the task's form; `errors` maps field path -> messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))


class InvalidAction(MotcuaError):
    """The action is not possible in the case's current state (e.g. withdrawal after the result)."""

"""Human tasks: the token's inbox, claiming and completing a step."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import BadRequest

from engine.db import transaction
from engine.errors import FormInvalid
from engine.inbox import InboxFilter, query_inbox
from engine.models import HumanTask, ProcessDefinition

from ..services import motcua
from .common import (
    ApiBlueprint,
    api_actor,
    path_parameter,
    readable_task,
    step_view,
    task_views,
    token_required,
)
from .schemas import (
    CompleteTaskSchema,
    InboxQuerySchema,
    InboxSchema,
    StepResultSchema,
    TaskDetailSchema,
    TaskSchema,
)

blp = ApiBlueprint(
    "tasks",
    __name__,
    description="Human tasks (steps of the internal workflow) the token's role works in its agency.",
)

TASK_ID = path_parameter("task_id", "Task id, as listed in the inbox or a case's `open_tasks`.")
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": 'The case version the client saw, e.g. `"5"` (as in the dossier\'s `ETag`); '
    "the same as `expected_version`.",
    "schema": {"type": "string"},
}


@blp.get("/tasks")
@token_required
@blp.arguments(InboxQuerySchema, location="query")
@blp.response(200, InboxSchema, description="One page of the inbox.")
def inbox(query: dict[str, Any]) -> dict[str, Any]:
    """List the token's inbox

    Open tasks the token may work: claimed by it, or unclaimed for its role in its agency, the
    most urgent first. Filters combine; `counts` sums up the whole workload, filters aside."""
    filters = InboxFilter(
        procedure_code=query.get("procedure_code"),
        status=query.get("status"),
        due=query.get("due"),
        code=query.get("code"),
        applicant=query.get("applicant"),
        kind=query.get("kind"),
        mine=query["mine"],
        team=query["team"],
    )
    page = query_inbox(motcua(), api_actor(), filters, query["page"], query["per_page"])
    due_states = {row.task_id: row.due_state for row in page.rows}
    with transaction(motcua().sessions) as session:
        tasks = (
            session.scalars(
                select(HumanTask).options(selectinload(HumanTask.case)).where(HumanTask.id.in_(due_states))
            ).all()
            if due_states
            else []
        )
        by_id = {view["id"]: view for view in task_views(session, tasks)}
    items = [
        {**by_id[task_id], "due_state": state} for task_id, state in due_states.items() if task_id in by_id
    ]
    return {
        "items": items,
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "counts": dict(page.counts),
    }


@blp.get("/tasks/<int:task_id>", parameters=TASK_ID)
@token_required
@blp.response(200, TaskDetailSchema, description="The task and the JSON Schema of its form.")
@blp.alt_response(404, response="NotFound")
def get_task(task_id: int) -> dict[str, Any]:
    """Read a task

    The task, its case's current version and the JSON Schema its completion data must satisfy."""
    with transaction(motcua().sessions) as session:
        task = readable_task(session, task_id, api_actor())
        (view,) = task_views(session, [task])
        forms = session.scalar(
            select(ProcessDefinition.forms).where(ProcessDefinition.id == task.case.definition_id)
        )
        view["form_schema"] = (forms or {}).get(task.form) if task.form else None
    return view


@blp.post("/tasks/<int:task_id>/claim", parameters=TASK_ID)
@token_required
@blp.response(200, TaskSchema, description="The task, now claimed by the token.")
@blp.alt_response(403, response="Forbidden")
@blp.alt_response(404, response="NotFound")
@blp.alt_response(409, response="Conflict")
def claim(task_id: int) -> dict[str, Any]:
    """Claim a task

    The token takes the task so colleagues see it is being worked. Needs the task's role in the
    task's agency (403 otherwise); a task claimed by someone else or no longer open is a 409."""
    actor = api_actor()
    m = motcua()
    with transaction(m.sessions) as session:
        readable_task(session, task_id, actor)
    m.claim_task(task_id, actor)
    with transaction(m.sessions) as session:
        (view,) = task_views(session, [readable_task(session, task_id, actor)])
    return view


@blp.post("/tasks/<int:task_id>/complete", parameters=TASK_ID)
@token_required
@blp.doc(parameters=[IF_MATCH])
@blp.arguments(CompleteTaskSchema)
@blp.response(
    200, StepResultSchema, description="The step was taken; the case's status, version and open tasks."
)
@blp.alt_response(400, response="BadRequest")
@blp.alt_response(403, response="Forbidden")
@blp.alt_response(404, response="NotFound")
@blp.alt_response(409, response="Conflict")
def complete(body: dict[str, Any], task_id: int) -> dict[str, Any]:
    """Complete a task

    `data` is validated against the task's form: every problem is reported per field (422).
    With `expected_version` (or `If-Match`), a case changed since the client read it is a 409,
    as is a task already completed: reload and decide again."""
    actor = api_actor()
    expected = _expected_version(body.get("expected_version"))
    m = motcua()
    with transaction(m.sessions) as session:
        kind = readable_task(session, task_id, actor).case.kind
    result = m.complete_task(task_id, body["data"], actor, expected_version=expected)
    return step_view(result, kind)


def _expected_version(from_body: int | None) -> int | None:
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        return from_body
    value = header.removeprefix("W/").strip().strip('"')
    if not value.isdigit():
        raise BadRequest('If-Match must carry the case version, e.g. If-Match: "5"')
    version = int(value)
    if from_body is not None and from_body != version:
        raise FormInvalid({"expected_version": [f"differs from the If-Match header ({version})"]})
    return version

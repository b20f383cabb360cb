"""What every API module shares: bearer-token authentication, the JSON body parser, the lookup of
cases and tasks within the token's reach, and the plain views of tasks and step results.

A token is an engine Actor scoped to one agency and one role. Reads reach the agency's subtree
(`Actor.can_read`); a case out of reach is answered 404, exactly as a code that does not exist,
so codes cannot be probed. Writes act only in the token's own agency (`Actor.can_act_in`)."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, g, request
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import BadRequest, Unauthorized, UnprocessableEntity

from engine.access import authenticate_token
from engine.actors import Actor
from engine.db import transaction
from engine.errors import NotFound, PermissionDenied
from engine.models import Agency, Case, HumanTask
from engine.runtime import StepResult
from engine.statuses import get_status

from ..services import motcua

BEARER = [{"bearerAuth": []}]
# Roles that take things in for an agency (dossiers, supplements, withdrawals, feedback): the
# one-stop desk's work. Other roles read, and work the tasks of their lane.
INTAKE_ROLES = frozenset({"officer"})


def path_parameter(name: str, description: str) -> list[dict[str, Any]]:
    """The OpenAPI description of a path parameter (its type comes from the URL rule)."""
    return [{"in": "path", "name": name, "description": description}]


class JsonBodyParser(FlaskParser):
    """Request bodies are JSON objects: anything else is a 400, never a silently empty body."""

    def _raw_load_json(self, req):  # type: ignore[no-untyped-def]
        body = req.get_data(cache=True)
        if not is_json_request(req):
            if body.strip():
                raise BadRequest("the request body must be JSON (Content-Type: application/json)")
            return core.missing
        return core.parse_json(body)

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise BadRequest(f"the request body is not valid JSON: {error}")

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):  # type: ignore[no-untyped-def]
        """422 with the problems per field (web.errors flattens them into `errors`)."""
        invalid = UnprocessableEntity("the data is invalid: `errors` lists the problems per field")
        invalid.data = {"messages": error.messages}  # type: ignore[attr-defined]
        raise invalid


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint with our body parser and our name for the 422 response."""

    ARGUMENTS_PARSER = JsonBodyParser()

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.after_request(add_auth_challenge)

    def arguments(self, schema, **kwargs):  # type: ignore[no-untyped-def,override]
        decorate = super().arguments(schema, **kwargs)

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            wrapped = decorate(func)
            # flask-smorest names the response after http.HTTPStatus, whose name for 422 depends
            # on the Python version: use ours so the committed spec is the same everywhere.
            responses = wrapped._apidoc["arguments"]["responses"]
            responses.pop(422, None)
            responses[422] = "InvalidData"
            if kwargs.get("location", "json") == "json":
                responses[400] = "BadRequest"
            return wrapped

        return decorator


# -- authentication ---------------------------------------------------------------------------


def token_required(func: Callable[..., Any]) -> Callable[..., Any]:
    """Authenticate the bearer token before anything else runs (parsing included), and declare
    the operation as protected in the OpenAPI document."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.api_actor = _token_actor()
        return func(*args, **kwargs)

    doc = copy.deepcopy(getattr(wrapper, "_apidoc", {}))
    doc.setdefault("manual_doc", {})["security"] = BEARER
    doc.setdefault("response", {}).setdefault("responses", {}).setdefault(401, []).append("Unauthorized")
    wrapper._apidoc = doc  # type: ignore[attr-defined]
    return wrapper


def api_actor() -> Actor:
    """The Actor of the token that authenticated this request."""
    return g.api_actor


def _token_actor() -> Actor:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send an API token: Authorization: Bearer <token>")
    try:
        return authenticate_token(motcua(), token)
    except PermissionDenied as err:
        raise Unauthorized(str(err)) from None


def add_auth_challenge(response: Response) -> Response:
    """RFC 6750: a 401 names the scheme the client should use."""
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="motcua"'
    return response


def require_role(actor: Actor, roles: Iterable[str], doing: str) -> None:
    if not actor.is_system and not set(roles) & actor.roles:
        raise PermissionDenied(f"{actor.username} may not {doing} (needs role {' or '.join(sorted(roles))})")


def token_agency(session: Session, actor: Actor) -> Agency:
    """The one agency a token acts for."""
    (agency_id,) = tuple(actor.agency_ids)
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound(f"agency {agency_id} does not exist")
    return agency


# -- cases and tasks within reach ----------------------------------------------------------------


def readable_case(session: Session, code: str, kind: str, actor: Actor) -> Case:
    """The case of that code and kind, if the actor may read it; otherwise 404."""
    case = session.scalars(select(Case).where(Case.code == code, Case.kind == kind)).first()
    if case is None or not actor.can_read(case.receiving_agency_id, case.resolving_agency_id):
        raise NotFound(f"{kind} {code!r} does not exist")
    return case


def readable_task(session: Session, task_id: int, actor: Actor) -> HumanTask:
    """The task, if the actor may read its case; otherwise 404 (whether it may act is the engine's
    call: 403)."""
    task = session.get(HumanTask, task_id)
    if task is None or not actor.can_read(task.case.receiving_agency_id, task.case.resolving_agency_id):
        raise NotFound(f"task {task_id} does not exist")
    return task


def check_intake(case: Case, actor: Actor, doing: str) -> None:
    """Supplements and withdrawals are taken in by the receiving agency's one-stop desk."""
    require_role(actor, INTAKE_ROLES, doing)
    if not actor.is_system and case.receiving_agency_id not in actor.agency_ids:
        raise PermissionDenied(f"{actor.username} does not work for the agency that received {case.code}")


# -- views ---------------------------------------------------------------------------------------


def agencies_by_id(session: Session, ids: Iterable[int]) -> dict[int, Agency]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {a.id: a for a in session.scalars(select(Agency).where(Agency.id.in_(wanted)))}


def agency_ref(agency: Agency | None) -> dict[str, str] | None:
    return {"code": agency.code, "name": agency.name} if agency else None


def task_views(session: Session, tasks: Iterable[HumanTask]) -> list[dict[str, Any]]:
    tasks = list(tasks)
    agencies = agencies_by_id(session, (t.agency_id for t in tasks))
    return [task_view(t, agencies) for t in tasks]


def task_view(task: HumanTask, agencies: dict[int, Agency]) -> dict[str, Any]:
    case = task.case
    return {
        "id": task.id,
        "case_code": case.code,
        "case_kind": case.kind,
        "case_status": case.status,
        "case_version": case.version,
        "title": case.title,
        "applicant_name": case.applicant_name,
        "element_id": task.element_id,
        "name": task.name,
        "role": task.role,
        "agency": agency_ref(agencies.get(task.agency_id)),
        "assignee": task.assignee,
        "status": task.status,
        "form": task.form,
        "created_at": task.created_at,
        "due_at": task.due_at,
        "completed_at": task.completed_at,
        "completed_by": task.completed_by,
    }


def open_task_views(session: Session, case_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(HumanTask)
        .options(selectinload(HumanTask.case))
        .where(HumanTask.case_id == case_id, HumanTask.status == "open")
        .order_by(HumanTask.id)
    )
    return task_views(session, rows)


def step_view(result: StepResult, kind: str) -> dict[str, Any]:
    """What a write tells the client: the case's status and version now, and the tasks left open."""
    with transaction(motcua().sessions) as session:
        ids = [t.id for t in result.open_tasks]
        rows = (
            session.scalars(select(HumanTask).where(HumanTask.id.in_(ids)).order_by(HumanTask.id))
            if ids
            else []
        )
        return {
            "code": result.case_code,
            "kind": kind,
            "status": result.status,
            "status_label": status_label(kind, result.status),
            "version": result.version,
            "open_tasks": task_views(session, rows),
        }


def status_label(kind: str, status: str) -> dict[str, str]:
    try:
        found = get_status(kind, status)
    except KeyError:
        return {"vi": status, "en": status}
    return {"vi": found.vi, "en": found.en}


def national_status_code(kind: str, status: str) -> int | None:
    try:
        return get_status(kind, status).national_code
    except KeyError:
        return None


def local_today() -> date:
    """Today where the agencies are (the engine's clock, the deployment's time zone)."""
    return motcua().clock.now().astimezone(local_zone()).date()


def local_zone() -> ZoneInfo:
    return ZoneInfo(motcua().settings.timezone)

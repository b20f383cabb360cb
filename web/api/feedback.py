"""Feedback on administrative regulations (phản ánh, kiến nghị): submission, reading, and the
public list of published answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from engine.db import transaction
from engine.models import Case, FeedbackPublication

from ..services import motcua
from .common import (
    INTAKE_ROLES,
    ApiBlueprint,
    agencies_by_id,
    agency_ref,
    api_actor,
    open_task_views,
    path_parameter,
    readable_case,
    require_role,
    status_label,
    step_view,
    token_agency,
    token_required,
)
from .schemas import (
    FeedbackCreateSchema,
    FeedbackSchema,
    PublishedPageSchema,
    PublishedQuerySchema,
    StepResultSchema,
)

blp = ApiBlueprint(
    "feedback",
    __name__,
    description="Feedback on administrative regulations (phản ánh, kiến nghị): submitted for the token's "
    "agency; published answers are public.",
)
CODE = path_parameter("code", "Feedback code, e.g. `PAKN-000.01.01.H99-260302-0001`.")


@blp.get("/feedback")
@blp.arguments(PublishedQuerySchema, location="query")
@blp.response(200, PublishedPageSchema, description="One page of published answers, newest first.")
def published_answers(query: dict[str, Any]) -> dict[str, Any]:
    """List published answers

    Public, no token needed: answers agencies have published, with citizens' likes and dislikes.
    Nothing about the sender is shown."""
    page, per_page = query["page"], query["per_page"]
    with transaction(motcua().sessions) as session:
        total = session.scalar(select(func.count()).select_from(FeedbackPublication)) or 0
        rows = session.execute(
            select(FeedbackPublication, Case)
            .join(Case, Case.id == FeedbackPublication.case_id)
            .order_by(FeedbackPublication.published_at.desc(), FeedbackPublication.case_id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
        agencies = agencies_by_id(session, (case.resolving_agency_id for _, case in rows))
        items = [
            _publication(p, case.code, agency_ref(agencies.get(case.resolving_agency_id))) for p, case in rows
        ]
    return {"items": items, "total": total, "page": page, "per_page": per_page}


@blp.post("/feedback")
@token_required
@blp.arguments(FeedbackCreateSchema)
@blp.response(201, StepResultSchema, description="The feedback was received.")
@blp.alt_response(403, response="Forbidden")
def submit(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Submit a feedback

    Received by the token's agency (role `officer`). Decree 20/2008 requires the sender's name,
    address and phone. The answer carries the feedback code."""
    actor = api_actor()
    require_role(actor, INTAKE_ROLES, "take in feedback")
    m = motcua()
    with transaction(m.sessions) as session:
        receiving = token_agency(session, actor).code
    sender = {k: v.strip() for k, v in body["sender"].items() if v}
    result = m.submit_feedback(
        receiving, sender=sender, category=body["category"], content=body["content"], actor=actor
    )
    return step_view(result, "feedback"), 201, {"Location": f"/api/v1/feedback/{result.case_code}"}


@blp.get("/feedback/<code>", parameters=CODE)
@token_required
@blp.response(200, FeedbackSchema, description="The feedback, its status and its published answer if any.")
@blp.alt_response(404, response="NotFound")
def get_feedback(code: str) -> dict[str, Any]:
    """Read a feedback

    Status, category and the published answer, if any. Of the sender, only the name is shown."""
    actor = api_actor()
    with transaction(motcua().sessions) as session:
        case = readable_case(session, code, "feedback", actor)
        agencies = agencies_by_id(session, (case.receiving_agency_id, case.resolving_agency_id))
        publication = session.get(FeedbackPublication, case.id)
        resolving = agency_ref(agencies.get(case.resolving_agency_id))
        return {
            "code": case.code,
            "status": case.status,
            "status_label": status_label("feedback", case.status),
            "category": case.facts.get("category"),
            "completed": case.completed,
            "version": case.version,
            "sender": {"name": case.applicant_name},
            "agencies": {
                "receiving": agency_ref(agencies.get(case.receiving_agency_id)),
                "resolving": resolving,
            },
            "submitted_at": case.submitted_at,
            "finished_at": case.finished_at,
            "answer": _publication(publication, case.code, resolving) if publication else None,
            "open_tasks": open_task_views(session, case.id),
        }


def _publication(p: FeedbackPublication, code: str, agency: dict[str, str] | None) -> dict[str, Any]:
    return {
        "code": code,
        "question": p.question,
        "answer": p.answer,
        "published_at": p.published_at,
        "likes": p.likes,
        "dislikes": p.dislikes,
        "agency": agency,
    }

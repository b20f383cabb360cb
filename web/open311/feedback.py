"""Feedback cases (phản ánh, kiến nghị) seen as GeoReport service requests.

Only public facts leave this module: the feedback code, category, status, dates, the resolving
agency and the published answer. Never the sender (name, address, phone, e-mail) and never the
content before the agency publishes it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from engine.actors import Actor
from engine.db import transaction
from engine.models import Agency, Case, CaseEvent, FeedbackPublication
from engine.motcua import Motcua
from engine.portal import feedback_categories
from engine.statuses import get_status

MAX_RESULTS = 1000
DEFAULT_WINDOW = timedelta(days=90)
GROUP = "Phản ánh, kiến nghị về quy định hành chính"


@dataclass(frozen=True)
class Service:
    code: str
    name: str

    def view(self) -> dict[str, Any]:
        return {
            "service_code": self.code,
            "service_name": self.name,
            "description": f"{GROUP}: {self.name}",
            "metadata": False,
            "type": "realtime",
            "keywords": f"phản ánh, kiến nghị, {self.code.replace('_', ' ')}",
            "group": GROUP,
        }


def services(m: Motcua) -> list[Service]:
    """The categories the deployed classification table accepts, as the public form offers them."""
    return [Service(c.key, c.label_vi) for c in feedback_categories(m)]


def service(m: Motcua, code: str) -> Service | None:
    return next((s for s in services(m) if s.code == code), None)


def changeset(m: Motcua) -> datetime:
    """When the service list last changed: the deployment of the feedback process it comes from."""
    with transaction(m.sessions) as session:
        return m.latest_definition(session, "feedback").deployed_at.astimezone(m.calendar.tz)


@dataclass(frozen=True)
class Window:
    """The requests asked for: explicit codes (which override every other filter) or a range."""

    codes: tuple[str, ...] = ()
    service_code: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    status: str | None = None  # open | closed | None for both


def requests(m: Motcua, window: Window) -> list[dict[str, Any]]:
    query = select(Case).where(Case.kind == "feedback")
    if window.codes:
        query = query.where(Case.code.in_(window.codes))
    else:
        if window.service_code:
            query = query.where(Case.facts["category"].as_string() == window.service_code)
        if window.start:
            query = query.where(Case.submitted_at >= window.start)
        if window.end:
            query = query.where(Case.submitted_at <= window.end)
        if window.status:
            query = query.where(Case.completed.is_(window.status == "closed"))
    query = query.order_by(Case.submitted_at.desc(), Case.id.desc()).limit(MAX_RESULTS)
    names = {s.code: s.name for s in services(m)}  # before our transaction: it opens its own
    with transaction(m.sessions) as session:
        cases = list(session.scalars(query))
        return _views(m, session, cases, names)


def request_by_code(m: Motcua, code: str) -> dict[str, Any] | None:
    found = requests(m, Window(codes=(code,)))
    return found[0] if found else None


def _views(m: Motcua, session: Any, cases: list[Case], names: dict[str, str]) -> list[dict[str, Any]]:
    agencies = _agency_names(session, (c.resolving_agency_id for c in cases))
    ids = [c.id for c in cases]
    answers = (
        {
            p.case_id: p
            for p in session.scalars(select(FeedbackPublication).where(FeedbackPublication.case_id.in_(ids)))
        }
        if ids
        else {}
    )
    return [_view(m, c, answers.get(c.id), agencies.get(c.resolving_agency_id), names) for c in cases]


def _view(
    m: Motcua, case: Case, answer: FeedbackPublication | None, agency: str | None, names: dict[str, str]
) -> dict[str, Any]:
    category = str(case.facts.get("category") or "")
    tz = m.calendar.tz
    return {
        "service_request_id": case.code,
        "status": "closed" if case.completed else "open",
        # The published answer once there is one; until then the public label of the status.
        "status_notes": answer.answer if answer else status_label(case.status),
        "service_name": names.get(category, category),
        "service_code": category,
        "agency_responsible": agency,
        "service_notice": None,
        "requested_datetime": case.submitted_at.astimezone(tz),
        "updated_datetime": case.updated_at.astimezone(tz),
        "expected_datetime": _expected(m, case),
    }


def _expected(m: Motcua, case: Case) -> datetime | None:
    """The legal limit for an answer (received + the configured handling days), while it is open."""
    days = m.settings.feedback_limits.get("handle_days")
    if case.completed or case.received_at is None or not days:
        return None
    return m.calendar.add_working_days(case.received_at.astimezone(m.calendar.tz), days)


def status_label(status: str) -> str:
    try:
        return get_status("feedback", status).vi
    except KeyError:
        return status


def _agency_names(session: Any, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {a.id: a.name for a in session.scalars(select(Agency).where(Agency.id.in_(wanted)))}


def updates(m: Motcua, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Status changes of feedback cases in [start, end], oldest first. An update is `closed` when
    it is the last change of a case that has completed."""
    with transaction(m.sessions) as session:
        rows = session.execute(
            select(CaseEvent, Case)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(
                Case.kind == "feedback",
                CaseEvent.type == "status_changed",
                CaseEvent.at >= start,
                CaseEvent.at <= end,
            )
            .order_by(CaseEvent.at, CaseEvent.id)
            .limit(MAX_RESULTS)
        ).all()
        last = _last_status_seq(session, {case.id for _, case in rows})
        tz = m.calendar.tz
        return [
            {
                "update_id": str(event.id),
                "service_request_id": case.code,
                "status": "closed" if case.completed and last.get(case.id) == event.seq else "open",
                "updated_datetime": event.at.astimezone(tz),
                "description": status_label(str(event.data.get("to", ""))),
                "media_url": None,
            }
            for event, case in rows
        ]


def _last_status_seq(session: Any, case_ids: set[int]) -> dict[int, int]:
    if not case_ids:
        return {}
    rows = session.execute(
        select(CaseEvent.case_id, CaseEvent.seq)
        .where(CaseEvent.case_id.in_(case_ids), CaseEvent.type == "status_changed")
        .order_by(CaseEvent.seq)
    )
    return {case_id: seq for case_id, seq in rows}


@dataclass(frozen=True)
class Submission:
    service_code: str
    description: str
    sender: dict[str, str]


def submit(m: Motcua, actor: Actor, submission: Submission) -> tuple[str, str]:
    """Start a feedback case received by the token's agency; (feedback code, service notice)."""
    (agency_id,) = tuple(actor.agency_ids)
    with transaction(m.sessions) as session:
        agency = session.get(Agency, agency_id)
        assert agency is not None
        receiving, agency_name = agency.code, agency.name
    result = m.submit_feedback(
        receiving,
        sender=submission.sender,
        category=submission.service_code,
        content=submission.description,
        actor=actor,
    )
    days = m.settings.feedback_limits.get("handle_days")
    notice = f"Received by {agency_name}. The answer is published when the agency has handled it"
    notice += f" (legal limit: {days} working days)." if days else "."
    return result.case_code, notice

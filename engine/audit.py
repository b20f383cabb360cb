"""Queries behind the auditor views: search cases, read a case's full history, verify its chain.

Read-only by construction: nothing here writes. An auditor reads the cases of their agency's
subtree (`Actor.readable_agency_ids`); a case outside it is answered as not found, like
everywhere else, so codes cannot be probed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from .actors import Actor
from .catalogue import subtree_ids
from .errors import FormInvalid, NotFound, PermissionDenied
from .history import HistoryVerdict
from .models import Agency, Case, CaseEvent, Procedure, Staff
from .motcua import Motcua
from .statuses import get_status, statuses

AUDIT_ROLES = frozenset({"auditor", "admin"})
PAGE_SIZE = 50
# A CSV export is one query held in memory; past this, narrow the filters.
MAX_EXPORT_ROWS = 50_000


def require_auditor(actor: Actor) -> None:
    if not (actor.is_system or actor.roles & AUDIT_ROLES):
        raise PermissionDenied(f"{actor.username} is not an auditor")


def reach(actor: Actor) -> frozenset[int] | None:
    """Agencies whose cases the actor reads; None means all (the system actor)."""
    return None if actor.is_system else actor.agency_ids | actor.readable_agency_ids


@dataclass(frozen=True)
class AuditFilters:
    code: str = ""
    kind: str = ""  # dossier | feedback
    procedure: str = ""  # procedure code
    agency: str = ""  # agency code: receiving or resolving
    include_below: bool = False  # the agency and every agency under it
    status: str = ""
    submitted_from: date | None = None
    submitted_to: date | None = None
    actor: str = ""  # someone who appears in the case's events

    @classmethod
    def parse(cls, args: Mapping[str, Any]) -> AuditFilters:
        """From query-string values; FormInvalid names a date that is not a date."""
        errors: dict[str, list[str]] = {}

        def day(name: str) -> date | None:
            raw = str(args.get(name) or "").strip()
            if not raw:
                return None
            try:
                return date.fromisoformat(raw)
            except ValueError:
                errors[name] = ["not a date (YYYY-MM-DD)"]
                return None

        def text(name: str) -> str:
            return str(args.get(name) or "").strip()[:128]

        filters = cls(
            code=text("code"),
            kind=text("kind") if text("kind") in ("dossier", "feedback") else "",
            procedure=text("procedure"),
            agency=text("agency"),
            include_below=str(args.get("include_below") or "") in ("1", "on", "true"),
            status=text("status"),
            submitted_from=day("submitted_from"),
            submitted_to=day("submitted_to"),
            actor=text("actor"),
        )
        if filters.submitted_from and filters.submitted_to and filters.submitted_from > filters.submitted_to:
            errors["submitted_to"] = ["before the start of the range"]
        if errors:
            raise FormInvalid(errors)
        return filters

    def as_args(self) -> dict[str, str]:
        """Back to query-string values (for paging links and the CSV link)."""
        out = {
            "code": self.code,
            "kind": self.kind,
            "procedure": self.procedure,
            "agency": self.agency,
            "include_below": "1" if self.include_below else "",
            "status": self.status,
            "submitted_from": self.submitted_from.isoformat() if self.submitted_from else "",
            "submitted_to": self.submitted_to.isoformat() if self.submitted_to else "",
            "actor": self.actor,
        }
        return {k: v for k, v in out.items() if v}


@dataclass(frozen=True)
class CaseRow:
    id: int
    code: str
    kind: str
    procedure_code: str | None
    procedure_version: int | None
    title: str
    status: str
    status_vi: str
    status_en: str
    channel: str
    receiving_code: str
    receiving_name: str
    resolving_code: str
    resolving_name: str
    applicant_name: str
    submitted_at: datetime
    received_at: datetime | None
    appointment_at: datetime | None
    original_appointment_at: datetime | None
    finished_at: datetime | None
    returned_at: datetime | None
    extension_count: int
    completed: bool
    history_seq: int


@dataclass(frozen=True)
class SearchResult:
    rows: list[CaseRow]
    total: int
    page: int
    pages: int
    page_size: int


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _query(session: Session, m: Motcua, actor: Actor, filters: AuditFilters) -> Select[Any]:
    query = select(Case, Procedure.code, Procedure.version).outerjoin(
        Procedure, Procedure.id == Case.procedure_id
    )
    readable = reach(actor)
    if readable is not None:
        ids = list(readable)
        query = query.where(or_(Case.receiving_agency_id.in_(ids), Case.resolving_agency_id.in_(ids)))
    if filters.code:
        query = query.where(Case.code.ilike(f"%{_escape_like(filters.code)}%", escape="\\"))
    if filters.kind:
        query = query.where(Case.kind == filters.kind)
    if filters.procedure:
        query = query.where(Procedure.code == filters.procedure)
    if filters.agency:
        agency = session.scalars(select(Agency).where(Agency.code == filters.agency)).first()
        if agency is None:
            raise FormInvalid({"agency": ["no such agency"]})
        chosen = list(subtree_ids(session, agency.id)) if filters.include_below else [agency.id]
        query = query.where(or_(Case.receiving_agency_id.in_(chosen), Case.resolving_agency_id.in_(chosen)))
    if filters.status:
        query = query.where(Case.status == filters.status)
    tz = m.calendar.tz
    # Dates are days in Hà Nội: the range covers from the start of the first to the end of the last.
    if filters.submitted_from:
        query = query.where(Case.submitted_at >= datetime.combine(filters.submitted_from, time(), tz))
    if filters.submitted_to:
        end = datetime.combine(filters.submitted_to + timedelta(days=1), time(), tz)
        query = query.where(Case.submitted_at < end)
    if filters.actor:
        query = query.where(
            Case.id.in_(select(CaseEvent.case_id).where(CaseEvent.actor == filters.actor).distinct())
        )
    return query


def search_cases(
    m: Motcua, actor: Actor, filters: AuditFilters, page: int | None = 1, page_size: int = PAGE_SIZE
) -> SearchResult:
    """Cases in the actor's reach matching the filters, newest submission first. `page=None`
    returns every match (for the CSV export, capped at MAX_EXPORT_ROWS)."""
    require_auditor(actor)
    with m._transaction() as session:
        query = _query(session, m, actor, filters)
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
        ordered = query.order_by(Case.submitted_at.desc(), Case.id.desc())
        if page is None:
            ordered, current, size = ordered.limit(MAX_EXPORT_ROWS), 1, max(total, 1)
        else:
            current, size = max(1, page), page_size
            ordered = ordered.limit(size).offset((current - 1) * size)
        agencies = _agencies(session)
        rows = [_row(case, code, version, agencies) for case, code, version in session.execute(ordered)]
    return SearchResult(rows, total, current, max(1, -(-total // size)), size)


def _agencies(session: Session) -> dict[int, Agency]:
    return {a.id: a for a in session.scalars(select(Agency))}


def _row(case: Case, procedure_code: str | None, version: int | None, agencies: dict[int, Agency]) -> CaseRow:
    try:
        status = get_status(case.kind, case.status)
        vi, en = status.vi, status.en
    except KeyError:
        vi = en = case.status
    receiving = agencies.get(case.receiving_agency_id)
    resolving = agencies.get(case.resolving_agency_id)
    return CaseRow(
        id=case.id,
        code=case.code,
        kind=case.kind,
        procedure_code=procedure_code,
        procedure_version=version,
        title=case.title,
        status=case.status,
        status_vi=vi,
        status_en=en,
        channel=case.channel,
        receiving_code=receiving.code if receiving else "",
        receiving_name=receiving.name if receiving else "",
        resolving_code=resolving.code if resolving else "",
        resolving_name=resolving.name if resolving else "",
        applicant_name=case.applicant_name,
        submitted_at=case.submitted_at,
        received_at=case.received_at,
        appointment_at=case.appointment_at,
        original_appointment_at=case.original_appointment_at,
        finished_at=case.finished_at,
        returned_at=case.returned_at,
        extension_count=case.extension_count,
        completed=case.completed,
        history_seq=case.history_seq,
    )


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class HistoryEntry:
    seq: int
    type: str
    actor: str
    actor_name: str  # the staff member's full name; empty for applicant, system, API tokens
    at: datetime
    task_id: str | None
    element_id: str | None
    task_name: str
    data: dict[str, Any]
    changes: tuple[FieldChange, ...]  # task_completed: every field the form set, before and after
    hash: str
    prev_hash: str


@dataclass(frozen=True)
class CaseHistory:
    case: CaseRow
    events: tuple[HistoryEntry, ...]
    people: dict[str, str] = field(default_factory=dict)  # username -> full name


def _readable_case(session: Session, actor: Actor, code: str) -> Case:
    case = session.scalars(select(Case).where(Case.code == code)).first()
    readable = reach(actor)
    if case is None or (
        readable is not None
        and case.receiving_agency_id not in readable
        and case.resolving_agency_id not in readable
    ):
        raise NotFound(f"case {code!r} does not exist")
    return case


def case_history(m: Motcua, actor: Actor, code: str) -> CaseHistory:
    """Every event of the case in order: who, what, when, which task, and the data."""
    require_auditor(actor)
    with m._transaction() as session:
        case = _readable_case(session, actor, code)
        procedure = case.procedure
        row = _row(
            case,
            procedure.code if procedure else None,
            procedure.version if procedure else None,
            _agencies(session),
        )
        events = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
        ).all()
        usernames = {e.actor for e in events}
        people = {
            s.username: s.full_name
            for s in session.scalars(select(Staff).where(Staff.username.in_(usernames)))
        }
        entries = tuple(_entry(e, people) for e in events)
    return CaseHistory(row, entries, people)


def _entry(event: CaseEvent, people: dict[str, str]) -> HistoryEntry:
    data = dict(event.data or {})
    changes: tuple[FieldChange, ...] = ()
    if event.type == "task_completed":
        before = data.get("before") or {}
        after = data.get("after") or {}
        changes = tuple(FieldChange(k, before.get(k), after.get(k)) for k in sorted(set(before) | set(after)))
    return HistoryEntry(
        seq=event.seq,
        type=event.type,
        actor=event.actor,
        actor_name=people.get(event.actor, ""),
        at=event.at,
        task_id=event.task_id,
        element_id=event.element_id,
        task_name=str(data.get("name") or ""),
        data=data,
        changes=changes,
        hash=event.hash,
        prev_hash=event.prev_hash,
    )


def verify_case(m: Motcua, actor: Actor, code: str) -> HistoryVerdict:
    """The hash chain of a case the auditor may read: intact, or the first bad event."""
    require_auditor(actor)
    with m._transaction() as session:
        _readable_case(session, actor, code)
    return m.verify_history(code)


def readable_agencies(m: Motcua, actor: Actor) -> list[Agency]:
    """Agencies the actor may filter on (its reach), ordered for a select box."""
    readable = reach(actor)
    with m._transaction() as session:
        query = select(Agency).order_by(Agency.level, Agency.name)
        if readable is not None:
            query = query.where(Agency.id.in_(list(readable)))
        return list(session.scalars(query))


def status_choices() -> list[tuple[str, str, str]]:
    """(key, vi, en) of every status, once per key (dossier and feedback share some keys)."""
    seen: dict[str, tuple[str, str, str]] = {}
    for (_, key), status in statuses().items():
        seen.setdefault(key, (key, status.vi, status.en))
    return list(seen.values())

"""The staff inbox as one query over the task projection (`human_tasks`), so the web pages and
the API list the same tasks in the same order. Workflows are never deserialized here: an inbox
is read on every page view and must stay cheap whatever the number of open cases.

"Actionable" has the same meaning as in `Motcua.inbox` and in the engine's permission checks:
a task assigned to the actor, or an unclaimed task of one of the actor's roles in one of the
agencies the actor works for."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from .actors import Actor
from .models import Case, HumanTask, Procedure
from .motcua import Motcua

DUE_STATES = ("overdue", "soon", "later")
KINDS = ("dossier", "feedback")
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class InboxFilter:
    procedure_code: str | None = None
    status: str | None = None  # case status key
    due: str | None = None  # "overdue" | "soon" (due within 1 working day) | "later"
    code: str | None = None  # dossier code contains
    applicant: str | None = None  # applicant name contains (case-insensitive)
    kind: str | None = None  # "dossier" | "feedback"
    mine: bool = False  # only tasks assigned to me
    # Leaders distribute work: with `team` a leader sees every open task of the agencies they
    # work for, whatever its role or assignee (the engine lets a leader assign and release
    # those). Ignored for everybody else.
    team: bool = False


@dataclass(frozen=True)
class InboxRow:
    task_id: int
    case_code: str
    case_kind: str
    task_name: str
    element_id: str
    role: str
    assignee: str | None
    procedure_code: str | None
    applicant_name: str
    status: str
    created_at: datetime
    due_at: datetime | None
    due_state: str  # overdue | soon | later | none
    agency_id: int = 0
    procedure_name: str | None = None


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int
    page: int
    per_page: int
    # Over the actor's whole actionable set, filters aside, so the counts work as a summary of
    # the workload next to any filtered list. Keys: all, mine, unclaimed, overdue, soon.
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def query_inbox(
    m: Motcua, actor: Actor, flt: InboxFilter = InboxFilter(), page: int = 1, per_page: int = 25
) -> InboxPage:
    """The actor's tasks, filtered, sorted by due time (tasks without one last), one page of them."""
    page = max(1, int(page))
    per_page = min(max(1, int(per_page)), MAX_PER_PAGE)
    now = m.clock.now()
    # "Soon" is measured on the working calendar, like every deadline: a task due Monday 09:00
    # is "soon" on Friday afternoon, not "later" because a weekend lies between.
    soon = m.calendar.add_working_days(now, 1)
    with m._transaction() as session:
        actionable = _actionable(actor)
        scope = _team_scope(actor) if flt.team and "leader" in actor.roles else actionable
        conditions = [HumanTask.status == "open", scope, *_filters(session, actor, flt, now, soon)]
        joined = (
            select(
                HumanTask.id,
                Case.code,
                Case.kind,
                HumanTask.name,
                HumanTask.element_id,
                HumanTask.role,
                HumanTask.assignee,
                Procedure.code,
                Case.applicant_name,
                Case.status,
                HumanTask.created_at,
                HumanTask.due_at,
                HumanTask.agency_id,
                Procedure.name,
            )
            .select_from(HumanTask)
            .join(Case, Case.id == HumanTask.case_id)
            .outerjoin(Procedure, Procedure.id == Case.procedure_id)
            .where(*conditions)
        )
        rows_query = (
            joined.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        rows = [_row(values, now, soon) for values in session.execute(rows_query)]
        total_query = (
            select(func.count(HumanTask.id))
            .select_from(HumanTask)
            .join(Case, Case.id == HumanTask.case_id)
            .outerjoin(Procedure, Procedure.id == Case.procedure_id)
            .where(*conditions)
        )
        total = int(session.scalar(total_query) or 0)
        counts = _counts(session, actor, actionable, now, soon)
    return InboxPage(rows=rows, total=total, page=page, per_page=per_page, counts=counts)


def due_state(due_at: datetime | None, now: datetime, soon: datetime) -> str:
    if due_at is None:
        return "none"
    if due_at < now:
        return "overdue"
    if due_at < soon:
        return "soon"
    return "later"


def _actionable(actor: Actor) -> ColumnElement[bool]:
    if actor.is_system:
        return HumanTask.id.is_not(None)
    mine = HumanTask.assignee == actor.username
    if not actor.roles or not actor.agency_ids:
        return mine
    return or_(
        mine,
        and_(
            HumanTask.assignee.is_(None),
            HumanTask.role.in_(sorted(actor.roles)),
            HumanTask.agency_id.in_(sorted(actor.agency_ids)),
        ),
    )


def _team_scope(actor: Actor) -> ColumnElement[bool]:
    return or_(HumanTask.assignee == actor.username, HumanTask.agency_id.in_(sorted(actor.agency_ids)))


def _filters(
    session: Session, actor: Actor, flt: InboxFilter, now: datetime, soon: datetime
) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if flt.procedure_code:
        out.append(Procedure.code == flt.procedure_code)
    if flt.status:
        out.append(Case.status == flt.status)
    if flt.kind:
        out.append(Case.kind == flt.kind if flt.kind in KINDS else false())
    if flt.code and flt.code.strip():
        out.append(Case.code.ilike(f"%{_escape_like(flt.code.strip())}%", escape="\\"))
    if flt.applicant and flt.applicant.strip():
        term = unicodedata.normalize("NFC", flt.applicant.strip()).lower()
        out.append(_lower(session, Case.applicant_name).like(f"%{_escape_like(term)}%", escape="\\"))
    if flt.mine:
        out.append(HumanTask.assignee == actor.username)
    if flt.due == "overdue":
        out.append(HumanTask.due_at < now)
    elif flt.due == "soon":
        out.append(and_(HumanTask.due_at >= now, HumanTask.due_at < soon))
    elif flt.due == "later":
        # Everything not urgent, tasks without a due time included.
        out.append(or_(HumanTask.due_at.is_(None), HumanTask.due_at >= soon))
    elif flt.due:
        out.append(false())
    return out


def _counts(
    session: Session, actor: Actor, actionable: ColumnElement[bool], now: datetime, soon: datetime
) -> dict[str, int]:
    def tally(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    query = select(
        func.count(HumanTask.id),
        tally(HumanTask.assignee == actor.username),
        tally(HumanTask.assignee.is_(None)),
        tally(HumanTask.due_at < now),
        tally(and_(HumanTask.due_at >= now, HumanTask.due_at < soon)),
    ).where(HumanTask.status == "open", actionable)
    values = session.execute(query).one()
    keys = ("all", "mine", "unclaimed", "overdue", "soon")
    return dict(zip(keys, (int(v or 0) for v in values), strict=True))


def _row(values: Any, now: datetime, soon: datetime) -> InboxRow:
    (
        task_id,
        code,
        kind,
        name,
        element_id,
        role,
        assignee,
        procedure_code,
        applicant,
        status,
        created_at,
        due_at,
        agency_id,
        procedure_name,
    ) = values
    return InboxRow(
        task_id=task_id,
        case_code=code,
        case_kind=kind,
        task_name=name,
        element_id=element_id,
        role=role,
        assignee=assignee,
        procedure_code=procedure_code,
        applicant_name=applicant,
        status=status,
        created_at=created_at,
        due_at=due_at,
        due_state=due_state(due_at, now, soon),
        agency_id=agency_id,
        procedure_name=procedure_name,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _lower(session: Session, column: Any) -> Any:
    """Unicode-aware lower case in SQL. PostgreSQL's lower() folds Vietnamese letters (Đ, Ễ...)
    under a UTF-8 locale; SQLite's folds ASCII only, so there we lend it Python's str.lower,
    registered on the connection this query runs on (connections come and go with the pool)."""
    if session.get_bind().dialect.name != "sqlite":
        return func.lower(column)
    raw = session.connection().connection.driver_connection
    raw.create_function("motcua_lower", 1, _py_lower, deterministic=True)
    return func.motcua_lower(column)


def _py_lower(value: str | None) -> str | None:
    return unicodedata.normalize("NFC", value).lower() if value is not None else None

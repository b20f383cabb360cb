"""Persistent model. The schema itself is created by the Alembic migrations in
`engine/migrations/versions`; these classes must stay in step with them (a test checks)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Stores instants as UTC and always hands back aware datetimes, on SQLite too
    (SQLite keeps no offset, so a naive value would silently become local time)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware instant")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Agency(Base):
    """An agency of the tree ministry/province/district/commune (cơ quan, đơn vị)."""

    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    level: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    # Electronic identifier (mã định danh điện tử) used as the prefix of dossier codes.
    electronic_id: Mapped[str] = mapped_column(String(64))
    dossier_code_pattern: Mapped[str | None] = mapped_column(String(128))
    desk_name: Mapped[str | None] = mapped_column(String(255))
    parent: Mapped[Agency | None] = relationship(remote_side=[id])


class Staff(Base):
    """A staff member: role names and the agency they work for. Credentials belong to the web layer."""

    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(255))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    roles: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ProcessDefinition(Base):
    """One deployed version of a BPMN process (with the DMN files it uses)."""

    __tablename__ = "process_definitions"
    __table_args__ = (
        UniqueConstraint("process_id", "version"),
        UniqueConstraint("process_id", "sha256"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    dmn_files: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Forms are versioned with the process: a running case keeps the forms it started with.
    forms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lanes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")


class Procedure(Base):
    """One published version of an administrative procedure (thủ tục hành chính). Immutable once
    published: a change is a new row with version + 1."""

    __tablename__ = "procedures"
    __table_args__ = (UniqueConstraint("code", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)
    field: Mapped[str] = mapped_column(String(255))  # lĩnh vực
    resolving_level: Mapped[str] = mapped_column(String(32))
    time_limit: Mapped[float] = mapped_column(Float)
    time_unit: Mapped[str] = mapped_column(String(32))
    fees: Mapped[list[Any]] = mapped_column(default=list)
    components: Mapped[list[Any]] = mapped_column(default=list)
    online_level: Mapped[str] = mapped_column(String(16))  # full | partial
    cutoff: Mapped[bool] = mapped_column(Boolean, default=False)  # 15:00 rule
    process_id: Mapped[str] = mapped_column(String(128))
    extra_agencies: Mapped[dict[str, Any]] = mapped_column(default=dict)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    published_at: Mapped[datetime]


class Case(Base):
    """A case: one process instance, a dossier (hồ sơ) or a feedback (phản ánh, kiến nghị)."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"))
    procedure_id: Mapped[int | None] = mapped_column(ForeignKey("procedures.id"))
    status: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    receiving_agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    resolving_agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    title: Mapped[str] = mapped_column(Text, default="")
    applicant_name: Mapped[str] = mapped_column(String(255), default="")
    # Facts fixed at reception that portals are told with every change: components received
    # (digitised / reused flags), fees, online payment. Never the applicant's ID number.
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    submitted_at: Mapped[datetime]
    received_at: Mapped[datetime | None]
    appointment_at: Mapped[datetime | None]
    original_appointment_at: Mapped[datetime | None]
    extension_count: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    wake_at: Mapped[datetime | None] = mapped_column(index=True)
    # The workflow's own state without its spec: UTF-8 JSON (ensure_ascii=False), zlib-compressed
    # (a finished one-stop dossier: ~25 KB of JSON, ~4 KB stored).
    state: Mapped[bytes] = mapped_column(LargeBinary)
    state_format: Mapped[str] = mapped_column(String(16))
    # Head of the history chain, so removing the newest events is detected too.
    history_seq: Mapped[int] = mapped_column(Integer, default=0)
    history_head: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    definition: Mapped[ProcessDefinition] = relationship()
    # Optimistic locking: every UPDATE of a case says "WHERE version = <the version I read>" and
    # bumps it; a concurrent second writer updates no row and gets StaleDataError (→ CaseConflict).
    __mapper_args__ = {"version_id_col": version}
    procedure: Mapped[Procedure | None] = relationship()


class CasePause(Base):
    """An interval in which the legal clock stood still (e.g. waiting for a supplement)."""

    __tablename__ = "case_pauses"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    reason: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class HumanTask(Base):
    """Projection of a user task so inboxes never deserialize workflows."""

    __tablename__ = "human_tasks"
    __table_args__ = (
        UniqueConstraint("case_id", "task_id"),
        Index("ix_human_tasks_inbox", "status", "role", "agency_id", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255))
    lane: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    form: Mapped[str | None] = mapped_column(String(255))
    assignee: Mapped[str | None] = mapped_column(String(64), index=True)
    candidates: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # open | completed | cancelled
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(64))
    case: Mapped[Case] = relationship()


class CaseEvent(Base):
    """Append-only history, hash-chained per case (each row carries the previous row's hash)."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class OutboxMessage(Base):
    """A message for an external system, written in the same transaction as the change."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column()
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]


class DossierSequence(Base):
    """Daily counter per agency behind dossier codes; incremented inside the reception
    transaction so a rolled-back reception leaves no gap."""

    __tablename__ = "dossier_sequences"
    series: Mapped[str] = mapped_column(String(16), primary_key=True)  # dossier | feedback
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class CalendarOverrideRow(Base):
    """Admin-editable exceptions to the working calendar (extra days off, make-up Saturdays)."""

    __tablename__ = "calendar_overrides"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")


class StaffCredential(Base):
    """A staff member's password (argon2 hash) and lockout state. Kept apart from Staff so the
    engine's domain rows never carry secrets."""

    __tablename__ = "staff_credentials"
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    changed_at: Mapped[datetime]


class ApiToken(Base):
    """A bearer token for an integrator, scoped to one agency and one role; only its hash is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class CaseAccess(Base):
    """How the applicant reaches their case without an account: a lookup PIN (hashed) and the
    encrypted personal identification number (số định danh cá nhân / CCCD)."""

    __tablename__ = "case_access"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    pin_hash: Mapped[str] = mapped_column(String(255))
    failed_lookups: Mapped[int] = mapped_column(Integer, default=0)
    id_number_encrypted: Mapped[str | None] = mapped_column(Text)
    id_number_last4: Mapped[str | None] = mapped_column(String(4))


class Upload(Base):
    """A file received with a case (component, supplement, feedback attachment), stored outside
    the web root under a generated name; the client's filename is kept only as a label."""

    __tablename__ = "uploads"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class SatisfactionRating(Base):
    """The applicant's evaluation of a returned dossier (3 levels, 9 criteria)."""

    __tablename__ = "satisfaction_ratings"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    level: Mapped[str] = mapped_column(String(32))
    criteria: Mapped[dict[str, Any]] = mapped_column(default=dict)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class FeedbackPublication(Base):
    """A published answer to a feedback, shown on the portal, with citizens' reactions."""

    __tablename__ = "feedback_publications"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime]
    likes: Mapped[int] = mapped_column(Integer, default=0)
    dislikes: Mapped[int] = mapped_column(Integer, default=0)


class DeliveryAttempt(Base):
    """One try at handing an outbox message to one adapter (national portal, a webhook
    subscriber…): what came back and how long it took, so an operator can see why a message
    is late or dead. A message fans out to several adapters; the rows with outcome `delivered`
    say which of them already have it, so a retry never sends twice to one that answered."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_delivery_attempts_outbox_adapter", "outbox_id", "adapter"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    # The per-receiver delivery this try belongs to (null only for tries older than deliveries
    # whose message needed no migrated delivery row).
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"), index=True)
    adapter: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))  # delivered | retry | dead
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")
    response_excerpt: Mapped[str] = mapped_column(Text, default="")


class Delivery(Base):
    """One outbox message for one receiver (an adapter instance: `dvcqg`, `webhook:tinh`…).
    Created by the delivery worker when it first routes a message, so the engine stays unaware
    of adapters. Each receiver keeps its own state, retry budget and order per case: a receiver
    that is down or refuses a message holds back only its own later messages of that case."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("outbox_id", "receiver"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        # The "is an earlier message of this case still undelivered for this receiver" check.
        Index("ix_deliveries_receiver_case", "receiver", "case_id", "outbox_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    receiver: Mapped[str] = mapped_column(String(64))
    # Copied from the outbox row: the order check runs on this table alone.
    case_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # pending | sending | delivered | dead | skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    # While `sending`: until when the worker that claimed it owns it; past that it is due again.
    leased_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")


class AdapterPause(Base):
    """A receiver an operator paused: its deliveries stay pending and are not claimed until the
    pause is lifted (the row deleted)."""

    __tablename__ = "adapter_pauses"
    receiver: Mapped[str] = mapped_column(String(64), primary_key=True)
    paused_by: Mapped[str] = mapped_column(String(64))
    paused_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")


class OperatorAction(Base):
    """What an operator did to delivery (replay, pause, resume), by whom and why: kept in the
    database next to what it changed, so it can be shown and audited with it."""

    __tablename__ = "operator_actions"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))  # replay | pause | resume
    receiver: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ProcessDraft(Base):
    """A process designer's work in progress (bản nháp quy trình): BPMN text and the forms it adds
    or edits, stored even while it has problems; deploying it makes a new process version."""

    __tablename__ = "process_drafts"
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(128), index=True)
    title: Mapped[str] = mapped_column(String(255))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    # Only the form schemas this draft adds or edits (name -> schema); the others are the shipped ones.
    forms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    based_on_version: Mapped[int | None] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(64))
    updated_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deployed_version: Mapped[int | None] = mapped_column(Integer)


class ProcessEvent(Base):
    """Append-only log of a process's versions (deployed, cases migrated), hash-chained per
    process like case history, so who changed a procedure's workflow and why stays provable."""

    __tablename__ = "process_events"
    __table_args__ = (UniqueConstraint("process_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(128))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

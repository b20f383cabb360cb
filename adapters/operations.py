"""What an operator sees and does about delivery: counts per receiver and state, the dead letters
with their attempts, replaying them, pausing and resuming a receiver.

Engine-free like the rest of `adapters` (the web page and any CLI call these). Reading needs no
actor; every action needs the role `admin` and leaves a row in `operator_actions` (who, when,
what, on which receiver), in the same transaction as the change it records."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from engine.actors import Actor
from engine.db import transaction
from engine.errors import FormInvalid, InvalidAction, PermissionDenied
from engine.models import AdapterPause, Case, Delivery, DeliveryAttempt, OperatorAction, OutboxMessage
from engine.motcua import Motcua

from .delivery import replay_in

STATES = ("pending", "sending", "delivered", "dead", "skipped")
OPERATOR_ROLE = "admin"
MAX_RECEIVER = 64


@dataclass(frozen=True)
class Pause:
    receiver: str
    paused_by: str
    paused_at: datetime
    reason: str


@dataclass(frozen=True)
class ReceiverCounts:
    receiver: str
    counts: dict[str, int]
    pause: Pause | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Overview:
    receivers: list[ReceiverCounts]
    # Outbox rows no worker has routed yet, and rows no receiver takes.
    unrouted: int
    skipped_messages: int


@dataclass(frozen=True)
class AttemptView:
    at: datetime
    outcome: str
    status_code: int | None
    latency_ms: int
    error: str
    excerpt: str


@dataclass(frozen=True)
class DeadLetter:
    delivery_id: int
    outbox_id: int
    receiver: str
    topic: str
    idempotency_key: str
    case_code: str | None
    created_at: datetime
    attempts: int
    last_error: str
    tries: list[AttemptView] = field(default_factory=list)


@dataclass(frozen=True)
class DeadLetterPage:
    total: int
    items: list[DeadLetter]


@dataclass(frozen=True)
class OperatorLogEntry:
    at: datetime
    actor: str
    action: str
    receiver: str
    detail: dict[str, Any]


def outbox_overview(m: Motcua) -> Overview:
    """Deliveries counted by receiver and state; paused receivers are listed even with none."""
    with transaction(m.sessions) as session:
        counts: dict[str, dict[str, int]] = {}
        for receiver, state, n in session.execute(
            select(Delivery.receiver, Delivery.state, func.count()).group_by(
                Delivery.receiver, Delivery.state
            )
        ).tuples():
            counts.setdefault(receiver, dict.fromkeys(STATES, 0))[state] = n
        pauses = {p.receiver: _pause(p) for p in session.scalars(select(AdapterPause))}
        by_state = dict(
            session.execute(
                select(OutboxMessage.state, func.count())
                .where(OutboxMessage.state.in_(("pending", "skipped")))
                .group_by(OutboxMessage.state)
            ).all()
        )
    receivers = [
        ReceiverCounts(name, counts.get(name, dict.fromkeys(STATES, 0)), pauses.get(name))
        for name in sorted(set(counts) | set(pauses))
    ]
    return Overview(receivers, by_state.get("pending", 0), by_state.get("skipped", 0))


def dead_letters(m: Motcua, receiver: str | None = None, limit: int = 50, offset: int = 0) -> DeadLetterPage:
    """Dead deliveries, oldest message first, each with all its attempts."""
    query = (
        select(Delivery, OutboxMessage, Case.code)
        .join(OutboxMessage, OutboxMessage.id == Delivery.outbox_id)
        .outerjoin(Case, Case.id == OutboxMessage.case_id)
        .where(Delivery.state == "dead")
    )
    total_query = select(func.count()).select_from(Delivery).where(Delivery.state == "dead")
    if receiver:
        query = query.where(Delivery.receiver == receiver)
        total_query = total_query.where(Delivery.receiver == receiver)
    with transaction(m.sessions) as session:
        total = session.scalar(total_query) or 0
        rows = session.execute(
            query.order_by(Delivery.outbox_id, Delivery.id).limit(limit).offset(offset)
        ).all()
        tries: dict[int, list[AttemptView]] = {}
        for attempt in session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_([d.id for d, _, _ in rows]))
            .order_by(DeliveryAttempt.id)
        ):
            assert attempt.delivery_id is not None
            tries.setdefault(attempt.delivery_id, []).append(
                AttemptView(
                    attempt.at,
                    attempt.outcome,
                    attempt.status_code,
                    attempt.latency_ms,
                    attempt.error,
                    attempt.response_excerpt,
                )
            )
    items = [
        DeadLetter(
            d.id,
            o.id,
            d.receiver,
            o.topic,
            o.idempotency_key,
            code,
            o.created_at,
            d.attempts,
            d.last_error,
            tries.get(d.id, []),
        )
        for d, o, code in rows
    ]
    return DeadLetterPage(total, items)


def replay_deliveries(m: Motcua, ids: Iterable[int], actor: Actor) -> int:
    """Put the given dead deliveries back in the queue (fresh retry budget); returns how many
    were dead. Deliveries that are not dead are left alone."""
    _require_operator(actor)
    requested = sorted({int(i) for i in ids})
    at = m.clock.now()
    with transaction(m.sessions) as session:
        count = replay_in(session, at, delivery_ids=requested)
        session.add(_action(at, actor, "replay", "", {"requested": requested, "replayed": count}))
    return count


def pause(m: Motcua, receiver: str, actor: Actor, reason: str) -> None:
    """Stop claiming the receiver's deliveries; they wait as pending, nothing is lost."""
    _require_operator(actor)
    receiver, reason = receiver.strip(), reason.strip()
    errors: dict[str, list[str]] = {}
    if not receiver or len(receiver) > MAX_RECEIVER:
        errors["receiver"] = [f"must be a receiver name of 1 to {MAX_RECEIVER} characters"]
    if not reason:
        errors["reason"] = ["say why the receiver is paused"]
    if errors:
        raise FormInvalid(errors)
    at = m.clock.now()
    with transaction(m.sessions) as session:
        if session.get(AdapterPause, receiver) is not None:
            raise InvalidAction(f"{receiver} is already paused")
        session.add(AdapterPause(receiver=receiver, paused_by=actor.username, paused_at=at, reason=reason))
        session.add(_action(at, actor, "pause", receiver, {"reason": reason}))


def resume(m: Motcua, receiver: str, actor: Actor) -> None:
    """Lift a pause: the receiver's waiting deliveries are claimed again, in order."""
    _require_operator(actor)
    at = m.clock.now()
    with transaction(m.sessions) as session:
        row = session.get(AdapterPause, receiver)
        if row is None:
            raise InvalidAction(f"{receiver} is not paused")
        detail = {"paused_by": row.paused_by, "reason": row.reason}
        session.delete(row)
        session.add(_action(at, actor, "resume", receiver, detail))


def pauses(m: Motcua) -> list[Pause]:
    with transaction(m.sessions) as session:
        return [_pause(p) for p in session.scalars(select(AdapterPause).order_by(AdapterPause.receiver))]


def operator_log(m: Motcua, limit: int = 20) -> list[OperatorLogEntry]:
    """The latest operator actions, newest first."""
    with transaction(m.sessions) as session:
        rows = session.scalars(select(OperatorAction).order_by(OperatorAction.id.desc()).limit(limit))
        return [OperatorLogEntry(r.at, r.actor, r.action, r.receiver, dict(r.detail)) for r in rows]


# -- helpers ----------------------------------------------------------------------------------


def _require_operator(actor: Actor) -> None:
    if OPERATOR_ROLE not in actor.roles:
        raise PermissionDenied("only administrators may replay, pause or resume deliveries")


def _pause(row: AdapterPause) -> Pause:
    return Pause(row.receiver, row.paused_by, row.paused_at, row.reason)


def _action(at: datetime, actor: Actor, action: str, receiver: str, detail: dict[str, Any]) -> OperatorAction:
    return OperatorAction(at=at, actor=actor.username, action=action, receiver=receiver, detail=detail)

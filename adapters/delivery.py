"""The delivery worker: routes new outbox rows to their receivers, takes due deliveries, sends
each to its receiver, records every attempt, and decides what happens next (delivered, retry
later, dead letter).

Per-receiver deliveries. The engine writes one outbox row per change and knows nothing about
receivers. The first worker that sees a row *routes* it: one `deliveries` row per receiver (adapter
instance: `dvcqg`, `webhook:tinh`…) that takes its topic, or the outbox row becomes `skipped` when
none does. From then on every receiver has its own state, retry budget and dead letter, so a
receiver that is down or refuses a message holds back nobody else.

Order per case is kept per receiver: a delivery is due only when no earlier message of its case
is still undelivered (pending, sending or dead) for the same receiver, and no earlier message of
its case is still waiting to be routed.

Claiming is a short transaction of its own (deliveries become `sending` with a lease), so no
database lock is held while we wait on the network; on PostgreSQL both routing and claiming use
FOR UPDATE SKIP LOCKED so concurrent workers never take the same row. A worker that dies leaves
its deliveries `sending` until the lease runs out; then they are due again (at least once, never
lost). A paused receiver's deliveries are not claimed; they wait as `pending`.

The outbox row's own state summarises its deliveries (`routed` while any is under way, then
`delivered`, or `dead` when a receiver gave up on it) for whoever reads the outbox alone."""

from __future__ import annotations

import http.client
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from engine.db import is_postgres, transaction
from engine.models import AdapterPause, Delivery, DeliveryAttempt, OutboxMessage
from engine.motcua import Motcua

from .registry import Adapter, Message, MessageRejected, Outcome, Request, RetryPolicy

EXCERPT_BYTES = 500
UNDELIVERED = ("pending", "sending", "dead")
DONE = ("delivered", "skipped")


@dataclass(frozen=True)
class AttemptResult:
    outcome: Outcome
    status_code: int | None
    latency_ms: int
    error: str
    excerpt: str


@dataclass(frozen=True)
class Claim:
    """A delivery this worker holds (state `sending`) until its lease runs out."""

    delivery_id: int
    receiver: str
    message: Message
    attempts: int


def deliver_due(
    m: Motcua,
    adapters: Sequence[Adapter],
    limit: int = 100,
    now: datetime | None = None,
    *,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
) -> int:
    """Route new messages and deliver up to `limit` due deliveries; returns how many were
    handled (deliveries tried, whatever the outcome, plus messages no receiver takes). Several
    passes: once a case's message is through for a receiver, its next one becomes due."""
    policy = policy or RetryPolicy()
    rng = rng or random.Random()
    by_name = {a.instance: a for a in adapters}
    for adapter in adapters:
        # Adapters that read the engine at send time (notifications: the applicant's contact)
        # get it here, so every caller — the CLI loop, a Celery task, a test — binds them alike.
        adapter.bind(m)
    handled = 0
    while handled < limit:
        at = now or m.clock.now()
        routed, skipped = _route(m, adapters, limit - handled, at)
        handled += skipped
        batch = _claim(m, list(by_name), limit - handled, at, policy) if handled < limit else []
        if not batch and not routed:
            break
        for claim in batch:
            _deliver_one(m, by_name[claim.receiver], claim, at, policy, rng)
            handled += 1
    return handled


def replay(
    m: Motcua,
    outbox_ids: Iterable[int] = (),
    now: datetime | None = None,
    *,
    delivery_ids: Iterable[int] = (),
) -> int:
    """Put dead deliveries back in the queue with a fresh retry budget; returns how many.
    `outbox_ids` replays every dead delivery of those messages, `delivery_ids` just those
    deliveries. Their attempts stay recorded; receivers that already have a message are not
    sent it again (their deliveries are not dead)."""
    at = now or m.clock.now()
    with transaction(m.sessions) as session:
        return replay_in(session, at, outbox_ids, delivery_ids)


def replay_in(
    session: Session, at: datetime, outbox_ids: Iterable[int] = (), delivery_ids: Iterable[int] = ()
) -> int:
    """`replay` inside the caller's transaction (the operator functions record their action in
    the same one)."""
    dead = session.scalars(
        select(Delivery)
        .where(
            Delivery.state == "dead",
            or_(Delivery.outbox_id.in_(list(outbox_ids)), Delivery.id.in_(list(delivery_ids))),
        )
        .order_by(Delivery.id)
    ).all()
    for delivery in dead:
        delivery.state = "pending"
        delivery.attempts = 0
        delivery.next_attempt_at = at
        delivery.leased_until = None
    session.flush()
    for outbox_id in sorted({d.outbox_id for d in dead}):
        _summarise(session, outbox_id, at)
    return len(dead)


def backoff(attempts: int, policy: RetryPolicy, rng: random.Random) -> timedelta:
    """Wait before try number `attempts + 1`: exponential, capped, with jitter so receivers coming
    back from an outage are not hit by every worker at the same second."""
    ceiling = min(policy.cap_seconds, policy.base_seconds * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=rng.uniform(ceiling / 2, ceiling))


def send(request: Request, timeout: float) -> tuple[int, bytes]:
    """One HTTP exchange with the standard library; network trouble surfaces as OSError or
    http.client.HTTPException."""
    parts = urlsplit(request.url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname or "", parts.port, timeout=timeout)
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        connection.request(request.method, path, body=request.body, headers=request.headers)
        response = connection.getresponse()
        return response.status, response.read(EXCERPT_BYTES * 8)
    finally:
        connection.close()


# -- helpers ----------------------------------------------------------------------------------


def _message(row: OutboxMessage) -> Message:
    return Message(row.id, row.case_id, row.topic, dict(row.payload), row.idempotency_key, row.created_at)


def _route(m: Motcua, adapters: Sequence[Adapter], limit: int, at: datetime) -> tuple[int, int]:
    """Give the oldest unrouted outbox rows their deliveries; returns (rows routed, of which
    skipped because no receiver takes them). Receivers enabled later do not get older messages."""
    query = select(OutboxMessage).where(OutboxMessage.state == "pending").order_by(OutboxMessage.id)
    query = query.limit(max(limit, 1))
    with transaction(m.sessions) as session:
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        rows = session.scalars(query).all()
        if not rows:
            return 0, 0
        # Messages half-delivered before per-receiver rows existed: a receiver that already
        # answered 2xx must not get them again.
        had = set(
            session.execute(
                select(DeliveryAttempt.outbox_id, DeliveryAttempt.adapter).where(
                    DeliveryAttempt.outbox_id.in_([r.id for r in rows]),
                    DeliveryAttempt.outcome == "delivered",
                )
            ).tuples()
        )
        skipped = 0
        for row in rows:
            message = _message(row)
            receivers = [a.instance for a in adapters if a.takes(message)]
            row.next_attempt_at = None
            if not receivers:
                # Nobody takes this topic in this deployment: recorded as such rather than
                # delivered, so the delivery counts stay honest.
                row.state = "skipped"
                skipped += 1
                continue
            for receiver in receivers:
                done = (row.id, receiver) in had
                session.add(
                    Delivery(
                        outbox_id=row.id,
                        receiver=receiver,
                        case_id=row.case_id,
                        state="delivered" if done else "pending",
                        attempts=0,
                        next_attempt_at=None if done else at,
                        created_at=at,
                        delivered_at=at if done else None,
                        last_error="",
                    )
                )
            row.state = "routed"
        session.flush()
        if had:
            for row in rows:
                _summarise(session, row.id, at)
            _link_old_attempts(session, [r.id for r in rows])
        return len(rows), skipped


def _link_old_attempts(session: Session, outbox_ids: list[int]) -> None:
    deliveries = session.scalars(select(Delivery).where(Delivery.outbox_id.in_(outbox_ids))).all()
    index = {(d.outbox_id, d.receiver): d.id for d in deliveries}
    for attempt in session.scalars(
        select(DeliveryAttempt).where(
            DeliveryAttempt.outbox_id.in_(outbox_ids), DeliveryAttempt.delivery_id.is_(None)
        )
    ):
        attempt.delivery_id = index.get((attempt.outbox_id, attempt.adapter))


def _claim(m: Motcua, receivers: list[str], limit: int, at: datetime, policy: RetryPolicy) -> list[Claim]:
    if not receivers or limit <= 0:
        return []
    earlier = aliased(Delivery)
    unrouted = aliased(OutboxMessage)
    # The receiver's earlier message of this case is not through yet (or is a dead letter).
    blocked = exists().where(
        earlier.receiver == Delivery.receiver,
        earlier.case_id == Delivery.case_id,
        earlier.outbox_id < Delivery.outbox_id,
        earlier.state.in_(UNDELIVERED),
    )
    # An earlier message of this case has no deliveries yet (routing is done in batches).
    waiting = exists().where(
        unrouted.case_id == Delivery.case_id,
        unrouted.id < Delivery.outbox_id,
        unrouted.state == "pending",
    )
    due = or_(
        and_(Delivery.state == "pending", Delivery.next_attempt_at <= at),
        and_(Delivery.state == "sending", Delivery.leased_until <= at),
    )
    query = (
        select(Delivery)
        .where(
            due,
            Delivery.receiver.in_(receivers),
            Delivery.receiver.not_in(select(AdapterPause.receiver)),
            ~blocked,
            ~waiting,
        )
        .order_by(Delivery.outbox_id, Delivery.id)
        .limit(limit)
    )
    with transaction(m.sessions) as session:
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True, of=Delivery)
        deliveries = session.scalars(query).all()
        if not deliveries:
            return []
        messages = {
            row.id: _message(row)
            for row in session.scalars(
                select(OutboxMessage).where(OutboxMessage.id.in_({d.outbox_id for d in deliveries}))
            )
        }
        claimed = []
        for delivery in deliveries:
            delivery.state = "sending"
            delivery.attempts += 1
            delivery.leased_until = at + timedelta(seconds=policy.lease_seconds)
            claimed.append(
                Claim(delivery.id, delivery.receiver, messages[delivery.outbox_id], delivery.attempts)
            )
        return claimed


def _deliver_one(
    m: Motcua,
    adapter: Adapter,
    claim: Claim,
    at: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> None:
    result = _attempt(adapter, claim.message)
    outcome = result.outcome.result
    if outcome == "retry" and claim.attempts >= policy.max_attempts:
        outcome = "dead"  # this receiver's retries are exhausted
    with transaction(m.sessions) as session:
        # Lock the message first: two workers finishing two receivers of one message must
        # summarise it one after the other, each seeing the other's result.
        if is_postgres(session):
            session.execute(
                select(OutboxMessage.id).where(OutboxMessage.id == claim.message.id).with_for_update()
            )
        session.add(
            DeliveryAttempt(
                outbox_id=claim.message.id,
                delivery_id=claim.delivery_id,
                adapter=claim.receiver,
                at=at,
                outcome=outcome,
                status_code=result.status_code,
                latency_ms=result.latency_ms,
                error=result.error,
                response_excerpt=result.excerpt,
            )
        )
        delivery = session.get(Delivery, claim.delivery_id, with_for_update=is_postgres(session))
        assert delivery is not None
        if delivery.state != "sending" or delivery.attempts != claim.attempts:
            # Our lease ran out and another worker took the delivery over: its result decides.
            return
        state: Literal["delivered", "pending", "dead"] = "pending" if outcome == "retry" else outcome
        delivery.state = state
        delivery.leased_until = None
        delivery.last_error = result.error
        if state == "delivered":
            delivery.delivered_at = at
            delivery.next_attempt_at = None
        elif state == "pending":
            delivery.next_attempt_at = at + backoff(claim.attempts, policy, rng)
        else:
            delivery.next_attempt_at = None
        session.flush()
        _summarise(session, claim.message.id, at)


def _summarise(session: Session, outbox_id: int, at: datetime) -> None:
    """The outbox row's state from its deliveries': delivered when every receiver has it, dead
    when none is under way and some receiver gave up, routed otherwise."""
    states = set(session.scalars(select(Delivery.state).where(Delivery.outbox_id == outbox_id)))
    row = session.get(OutboxMessage, outbox_id)
    assert row is not None
    if states <= set(DONE):
        row.state = "delivered"
        row.delivered_at = row.delivered_at or at
    elif states & {"pending", "sending"}:
        row.state = "routed"
    else:
        row.state = "dead"


def _attempt(adapter: Adapter, message: Message) -> AttemptResult:
    from .registry import DirectAdapter  # imported here to keep this change within _attempt

    if isinstance(adapter, DirectAdapter):
        # It talks to its receiver itself (SMTP, ...): same outcome model, no HTTP exchange here.
        started = time.monotonic()
        try:
            direct = adapter.deliver(message)
        except MessageRejected as err:
            return AttemptResult(Outcome("dead", str(err)), None, 0, f"rejected: {err}", "")
        except Exception as err:
            return AttemptResult(Outcome("retry", "adapter error"), None, 0, f"adapter error: {err!r}", "")
        latency = int((time.monotonic() - started) * 1000)
        error = "" if direct.result == "delivered" else direct.reason
        return AttemptResult(direct, direct.code, latency, error, direct.reason[:EXCERPT_BYTES])
    try:
        request = adapter.build_request(message)
    except MessageRejected as err:
        return AttemptResult(Outcome("dead", str(err)), None, 0, f"rejected: {err}", "")
    except Exception as err:
        # A fault in one adapter must not stop the worker for every other message; the row is
        # retried and, if the fault persists, ends in the dead letters with this error shown.
        return AttemptResult(Outcome("retry", "adapter error"), None, 0, f"adapter error: {err!r}", "")
    started = time.monotonic()
    try:
        status, body = send(request, adapter.timeout)
    except (OSError, http.client.HTTPException) as err:
        # Refused, reset, timed out, closed mid-answer: the receiver may be back soon.
        latency = int((time.monotonic() - started) * 1000)
        error = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        return AttemptResult(Outcome("retry", error), None, latency, error, "")
    latency = int((time.monotonic() - started) * 1000)
    outcome = adapter.read_response(status, body)
    excerpt = body[:EXCERPT_BYTES].decode("utf-8", errors="replace")
    error = "" if outcome.result == "delivered" else outcome.reason
    return AttemptResult(outcome, status, latency, error, excerpt)

"""The delivery worker: takes due outbox rows, hands each to every adapter that takes its topic,
records every attempt, and decides what happens next (delivered, retry later, dead letter).

Fan-out: one outbox row, several receivers. A row is `delivered` only when every receiver that
takes it answered 2xx; the `delivery_attempts` rows with outcome `delivered` say which receivers
already have it, so a retry sends only to the others. Any receiver refusing for good (4xx, a
message it cannot map, retries exhausted) makes the whole row `dead`; replaying it later again
skips the receivers that already have it.

Claiming is a short transaction of its own (rows become `sending` with a lease), so no database
lock is held while we wait on the network; on PostgreSQL the claim uses FOR UPDATE SKIP LOCKED
so concurrent workers never take the same row. A worker that dies leaves its rows `sending`
until the lease runs out; then they are due again (at least once, never lost).

Order per case: a row is due only when no earlier row of its case is still undelivered
(pending, sending or dead), so a receiver never sees a case's statuses out of order."""

from __future__ import annotations

import http.client
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased

from engine.db import is_postgres, transaction
from engine.models import DeliveryAttempt, OutboxMessage
from engine.motcua import Motcua

from .registry import Adapter, Message, MessageRejected, Outcome, Request, RetryPolicy

EXCERPT_BYTES = 500
UNDELIVERED = ("pending", "sending", "dead")


@dataclass(frozen=True)
class AttemptResult:
    outcome: Outcome
    status_code: int | None
    latency_ms: int
    error: str
    excerpt: str


def deliver_due(
    m: Motcua,
    adapters: Sequence[Adapter],
    limit: int = 100,
    now: datetime | None = None,
    *,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
) -> int:
    """Deliver up to `limit` due messages; returns how many were handled (whatever the outcome).
    Several passes: after a case's first message is through, its next one becomes due."""
    policy = policy or RetryPolicy()
    rng = rng or random.Random()
    handled = 0
    while handled < limit:
        at = now or m.clock.now()
        batch = _claim(m, limit - handled, at, policy)
        if not batch:
            break
        for message, attempts in batch:
            _deliver_one(m, adapters, message, attempts, at, policy, rng)
            handled += 1
    return handled


def replay(m: Motcua, outbox_ids: Sequence[int], now: datetime | None = None) -> int:
    """Put dead messages back in the queue with a fresh retry budget; returns how many.
    Their attempts stay recorded, and receivers that already had them are not sent them again."""
    at = now or m.clock.now()
    with transaction(m.sessions) as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(outbox_ids)), OutboxMessage.state == "dead")
            .values(state="pending", attempts=0, next_attempt_at=at)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


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


def _claim(m: Motcua, limit: int, at: datetime, policy: RetryPolicy) -> list[tuple[Message, int]]:
    earlier = aliased(OutboxMessage)
    blocked = exists().where(
        and_(
            earlier.case_id == OutboxMessage.case_id,
            earlier.id < OutboxMessage.id,
            earlier.state.in_(UNDELIVERED),
        )
    )
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.state.in_(("pending", "sending")),
            OutboxMessage.next_attempt_at <= at,
            ~blocked,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    with transaction(m.sessions) as session:
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True, of=OutboxMessage)
        rows = session.scalars(query).all()
        claimed = []
        for row in rows:
            row.state = "sending"
            row.attempts += 1
            row.next_attempt_at = at + timedelta(seconds=policy.lease_seconds)
            message = Message(
                row.id, row.case_id, row.topic, dict(row.payload), row.idempotency_key, row.created_at
            )
            claimed.append((message, row.attempts))
        return claimed


def _deliver_one(
    m: Motcua,
    adapters: Sequence[Adapter],
    message: Message,
    attempts: int,
    at: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> None:
    receivers = [a for a in adapters if a.takes(message)]
    with transaction(m.sessions) as session:
        done = _already_delivered(session, message.id)
    results = [(a, _attempt(a, message)) for a in receivers if a.instance not in done]
    verdicts = {result.outcome.result for _, result in results}
    state: Literal["delivered", "pending", "dead", "skipped"]
    if not receivers:
        # Nobody takes this topic in this deployment: recorded as such rather than delivered, so
        # the dead-letter and delivery counts stay honest.
        state = "skipped"
    elif "dead" in verdicts:
        state = "dead"
    elif "retry" in verdicts:
        state = "dead" if attempts >= policy.max_attempts else "pending"
    else:
        state = "delivered"
    with transaction(m.sessions) as session:
        for adapter, result in results:
            outcome = result.outcome.result
            if outcome == "retry" and state == "dead":
                outcome = "dead"  # this receiver's retries are exhausted
            session.add(
                DeliveryAttempt(
                    outbox_id=message.id,
                    adapter=adapter.instance,
                    at=at,
                    outcome=outcome,
                    status_code=result.status_code,
                    latency_ms=result.latency_ms,
                    error=result.error,
                    response_excerpt=result.excerpt,
                )
            )
        row = session.get(OutboxMessage, message.id)
        assert row is not None
        row.state = state
        if state in ("delivered", "skipped"):
            row.delivered_at = at if state == "delivered" else None
            row.next_attempt_at = None
        elif state == "pending":
            row.next_attempt_at = at + backoff(attempts, policy, rng)
        else:
            row.next_attempt_at = None


def _already_delivered(session: Session, outbox_id: int) -> set[str]:
    return set(
        session.scalars(
            select(DeliveryAttempt.adapter).where(
                DeliveryAttempt.outbox_id == outbox_id, DeliveryAttempt.outcome == "delivered"
            )
        )
    )


def _attempt(adapter: Adapter, message: Message) -> AttemptResult:
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

"""The one place that writes case history, and its verification.

Each event carries the previous event's hash and its own sha256 over a canonical JSON form, and
the case row keeps the chain's head, so an auditor can detect an altered, removed or inserted
event anywhere in the chain, including at its end."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import NotFound
from .models import Case, CaseEvent

GENESIS = "0" * 64


def json_safe(value: Any) -> Any:
    """Data as it will be hashed and stored: instants as ISO strings, no Python-only types."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(v) for v in value]
    return value


def event_hash(
    case_id: int,
    seq: int,
    type_: str,
    actor: str,
    at: datetime,
    task_id: str | None,
    element_id: str | None,
    data: dict[str, Any],
    prev_hash: str,
) -> str:
    return chain_hash(
        {
            "case": case_id,
            "seq": seq,
            "type": type_,
            "actor": actor,
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "task": task_id,
            "element": element_id,
            "data": data,
            "prev": prev_hash,
        }
    )


def chain_hash(record: dict[str, Any]) -> str:
    """sha256 over one record's canonical JSON (sorted keys, UTF-8, no spaces): the same bytes
    on every machine, so a chain verifies wherever it is read."""
    canonical = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append_event(
    session: Session,
    case: Case,
    type_: str,
    actor: str,
    at: datetime,
    *,
    task_id: str | None = None,
    element_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Append one event to the case's chain. The caller holds the case's version lock."""
    session.add(
        CaseEvent(**chain_event(case, type_, actor, at, task_id=task_id, element_id=element_id, data=data))
    )


def chain_event(
    case: Case,
    type_: str,
    actor: str,
    at: datetime,
    *,
    task_id: str | None = None,
    element_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The next event of the case's chain as a row (hashed, head moved); the caller inserts it in
    the same transaction. Steps insert their events in one statement this way."""
    payload = json_safe(data or {})
    seq = case.history_seq + 1
    prev = case.history_head or GENESIS
    digest = event_hash(case.id, seq, type_, actor, at, task_id, element_id, payload, prev)
    case.history_seq = seq
    case.history_head = digest
    return {
        "case_id": case.id,
        "seq": seq,
        "type": type_,
        "actor": actor,
        "at": at,
        "task_id": task_id,
        "element_id": element_id,
        "data": payload,
        "prev_hash": prev,
        "hash": digest,
    }


@dataclass(frozen=True)
class HistoryVerdict:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""


def verify_history(session: Session, case_id: int) -> HistoryVerdict:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} does not exist")
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
    ).all()
    prev = GENESIS
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            return HistoryVerdict(False, expected_seq - 1, expected_seq, f"event {expected_seq} is missing")
        if event.prev_hash != prev:
            return HistoryVerdict(
                False,
                expected_seq - 1,
                event.seq,
                f"event {event.seq} does not follow event {event.seq - 1} (chain broken)",
            )
        digest = event_hash(
            case_id,
            event.seq,
            event.type,
            event.actor,
            event.at,
            event.task_id,
            event.element_id,
            event.data,
            event.prev_hash,
        )
        if digest != event.hash:
            return HistoryVerdict(False, expected_seq - 1, event.seq, f"event {event.seq} was altered")
        prev = event.hash
    if len(events) != case.history_seq or prev != (case.history_head or GENESIS):
        missing = len(events) + 1
        return HistoryVerdict(
            False,
            len(events),
            missing,
            f"the history ends at event {len(events)} but the case recorded {case.history_seq}",
        )
    return HistoryVerdict(True, len(events))

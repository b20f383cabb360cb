"""The one place that writes outbox rows. A row is written in the same transaction as the change
it reports; delivery (adapters) reads them later, at least once, de-duplicated by the key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .history import json_safe
from .models import Case, OutboxMessage


def enqueue(session: Session, case: Case, topic: str, payload: dict[str, Any], at: datetime) -> None:
    session.add(OutboxMessage(**outbox_row(case, topic, payload, at)))


def outbox_row(case: Case, topic: str, payload: dict[str, Any], at: datetime) -> dict[str, Any]:
    # The key is tied to the history position that caused the message, so a replayed step can
    # never create a second, different key for the same change.
    return {
        "case_id": case.id,
        "topic": topic,
        "payload": json_safe(payload),
        "idempotency_key": f"{case.code}:{case.history_seq}:{topic}",
        "created_at": at,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": at,
        "delivered_at": None,
    }

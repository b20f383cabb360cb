"""The one place that writes outbox rows. A row is written in the same transaction as the change
it reports; delivery (adapters) reads them later, at least once, de-duplicated by the key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .history import json_safe
from .models import Case, OutboxMessage


def enqueue(session: Session, case: Case, topic: str, payload: dict[str, Any], at: datetime) -> OutboxMessage:
    # The key is tied to the history position that caused the message, so a replayed step can
    # never create a second, different key for the same change.
    key = f"{case.code}:{case.history_seq}:{topic}"
    message = OutboxMessage(
        case_id=case.id,
        topic=topic,
        payload=json_safe(payload),
        idempotency_key=key,
        created_at=at,
        state="pending",
        attempts=0,
        next_attempt_at=at,
    )
    session.add(message)
    return message

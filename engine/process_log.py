"""The process log (nhật ký quy trình): every new version of a process with who deployed it and
why, and every move of running cases between versions.

Events are chained per process exactly like case history (canonical JSON, sha256, the previous
event's hash), and PostgreSQL refuses UPDATE and DELETE on the table. There is no process row to
hold the chain's head, so verification also checks the log against the deployed versions: a
version without its deploy record, or a record naming a version that is not there, is reported.
(Removing the newest migration records is only prevented, by the trigger, not detected.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, load_only

from .actors import Actor
from .db import transaction
from .errors import NotFound
from .history import GENESIS, HistoryVerdict, chain_hash, json_safe
from .models import ProcessDefinition, ProcessEvent
from .versions import require_process_reader

if TYPE_CHECKING:
    from .motcua import Motcua

PROCESS_DEPLOYED = "process_deployed"
CASES_MIGRATED = "cases_migrated"


@dataclass(frozen=True)
class ProcessEventView:
    seq: int
    type: str
    actor: str
    at: datetime
    data: dict[str, Any]


def process_history(m: Motcua, actor: Actor, process_id: str) -> list[ProcessEventView]:
    """The process's log, oldest first: who deployed which version and why, which cases moved.
    Empty for a process never deployed (only drafted)."""
    require_process_reader(actor)
    with transaction(m.sessions) as session:
        events = _events(session, process_id)
        return [ProcessEventView(e.seq, e.type, e.actor, e.at, dict(e.data)) for e in events]


def verify_process_log(m: Motcua, process_id: str, actor: Actor | None = None) -> HistoryVerdict:
    """Check the chain and that it agrees with the deployed versions."""
    if actor is not None:
        require_process_reader(actor)
    with transaction(m.sessions) as session:
        events = _events(session, process_id)
        definitions = _deployed(session, process_id)
    if not events and not definitions:
        raise NotFound(f"process {process_id!r} is not deployed")
    prev = GENESIS
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            return HistoryVerdict(False, expected_seq - 1, expected_seq, f"event {expected_seq} is missing")
        if event.prev_hash != prev:
            return HistoryVerdict(
                False, expected_seq - 1, event.seq, f"event {event.seq} does not follow event {event.seq - 1}"
            )
        digest = process_event_hash(
            process_id, event.seq, event.type, event.actor, event.at, event.data, event.prev_hash
        )
        if digest != event.hash:
            return HistoryVerdict(False, expected_seq - 1, event.seq, f"event {event.seq} was altered")
        prev = event.hash
    return _against_versions(events, definitions)


def record_deployment(
    session: Session, definition: ProcessDefinition, actor: str, at: datetime
) -> ProcessEvent:
    """The deploy record, written in the transaction that stores the version."""
    return append_process_event(
        session,
        definition.process_id,
        PROCESS_DEPLOYED,
        actor,
        at,
        {
            "version": definition.version,
            "definition_id": definition.id,
            "sha256": definition.sha256,
            "note": definition.note,
            "filename": definition.filename,
        },
    )


def record_event(m: Motcua, process_id: str, type_: str, actor: str, data: dict[str, Any]) -> None:
    """Append one event in its own transaction. Two writers racing for the same sequence number
    collide on the unique (process_id, seq); the loser simply takes the next number."""
    for attempt in range(3):
        try:
            with transaction(m.sessions) as session:
                append_process_event(session, process_id, type_, actor, m.clock.now(), data)
            return
        except IntegrityError:
            if attempt == 2:
                raise


def append_process_event(
    session: Session, process_id: str, type_: str, actor: str, at: datetime, data: dict[str, Any]
) -> ProcessEvent:
    last = session.scalars(
        select(ProcessEvent)
        .options(load_only(ProcessEvent.seq, ProcessEvent.hash))
        .where(ProcessEvent.process_id == process_id)
        .order_by(ProcessEvent.seq.desc())
        .limit(1)
    ).first()
    seq = last.seq + 1 if last else 1
    prev = last.hash if last else GENESIS
    payload = json_safe(data)
    event = ProcessEvent(
        process_id=process_id,
        seq=seq,
        type=type_,
        actor=actor,
        at=at,
        data=payload,
        prev_hash=prev,
        hash=process_event_hash(process_id, seq, type_, actor, at, payload, prev),
    )
    session.add(event)
    session.flush()
    return event


def process_event_hash(
    process_id: str, seq: int, type_: str, actor: str, at: datetime, data: dict[str, Any], prev_hash: str
) -> str:
    return chain_hash(
        {
            "process": process_id,
            "seq": seq,
            "type": type_,
            "actor": actor,
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "data": data,
            "prev": prev_hash,
        }
    )


def _events(session: Session, process_id: str) -> list[ProcessEvent]:
    return list(
        session.scalars(
            select(ProcessEvent).where(ProcessEvent.process_id == process_id).order_by(ProcessEvent.seq)
        )
    )


def _deployed(session: Session, process_id: str) -> list[ProcessDefinition]:
    return list(
        session.scalars(
            select(ProcessDefinition)
            .options(load_only(ProcessDefinition.id, ProcessDefinition.version, ProcessDefinition.sha256))
            .where(ProcessDefinition.process_id == process_id)
            .order_by(ProcessDefinition.version)
        )
    )


def _against_versions(events: list[ProcessEvent], definitions: list[ProcessDefinition]) -> HistoryVerdict:
    """Each deploy record names a deployed version as stored, and each version has its record
    (versions older than the log got theirs when the log was created)."""
    by_version = {d.version: d for d in definitions}
    recorded: set[int] = set()
    for event in events:
        if event.type != PROCESS_DEPLOYED:
            continue
        version = event.data.get("version")
        definition = by_version.get(version) if isinstance(version, int) else None
        if (
            definition is None
            or definition.id != event.data.get("definition_id")
            or definition.sha256 != event.data.get("sha256")
        ):
            return HistoryVerdict(
                False, event.seq - 1, event.seq, f"event {event.seq} records version {version}, not deployed"
            )
        recorded.add(definition.version)
    for definition in definitions:
        if definition.version not in recorded:
            return HistoryVerdict(
                False, len(events), None, f"version {definition.version} has no deploy record in the log"
            )
    return HistoryVerdict(True, len(events))

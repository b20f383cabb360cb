"""The hash-chained history detects altered, removed and truncated events."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from engine.db import transaction
from engine.models import Case


@pytest.fixture
def dossier(motcua):
    officer = motcua.actor_for("motcua_anbinh")
    return motcua.receive_dossier(
        "2.000720", "XA_AN_BINH", applicant={"name": "Lê Thị Bích"}, actor=officer
    ).case_code


def tamper(motcua, sql: str, code: str) -> None:
    with transaction(motcua.sessions) as session:
        case_id = session.scalars(select(Case.id).where(Case.code == code)).one()
        if session.get_bind().dialect.name == "postgresql":
            # Only a superuser bypassing the append-only trigger can do this; we play one.
            session.execute(text("SET LOCAL session_replication_role = replica"))
        session.execute(text(sql), {"case_id": case_id})


def test_intact_history_verifies(motcua, dossier):
    verdict = motcua.verify_history(dossier)
    assert verdict.ok and verdict.checked >= 2


def test_altered_event_is_found(motcua, dossier):
    tamper(motcua, "UPDATE case_events SET actor = 'mallory' WHERE case_id = :case_id AND seq = 1", dossier)
    verdict = motcua.verify_history(dossier)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 1)
    assert "altered" in verdict.reason


def test_removed_event_is_found(motcua, dossier):
    tamper(motcua, "DELETE FROM case_events WHERE case_id = :case_id AND seq = 1", dossier)
    verdict = motcua.verify_history(dossier)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 1)


def test_truncated_tail_is_found(motcua, dossier):
    tamper(
        motcua,
        "DELETE FROM case_events WHERE case_id = :case_id AND seq = "
        "(SELECT max(seq) FROM case_events WHERE case_id = :case_id)",
        dossier,
    )
    verdict = motcua.verify_history(dossier)
    assert not verdict.ok and "ends at event" in verdict.reason

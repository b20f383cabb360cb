"""Migrations: one head, the models match the migrated schema, history is append-only on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from engine.migrate import alembic_config, upgrade
from engine.models import Base


def test_single_head_with_numbered_revisions():
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == ["0005"]
    for revision in script.walk_revisions():
        assert revision.revision.isdigit() and len(revision.revision) == 4


def test_models_match_the_migrated_schema(database_url):
    engine = create_engine(database_url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_history_is_append_only_on_postgres(motcua):
    if motcua.db.dialect.name != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only")
    officer = motcua.actor_for("motcua_anbinh")
    motcua.receive_dossier("2.000720", "XA_AN_BINH", applicant={"name": "A"}, actor=officer)
    for statement in ("UPDATE case_events SET actor = 'x'", "DELETE FROM case_events"):
        with pytest.raises(DBAPIError, match="append-only"), motcua.db.begin() as conn:
            conn.execute(text(statement))


def test_process_log_is_append_only_on_postgres(motcua):
    if motcua.db.dialect.name != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only")
    # Deploying the shipped processes wrote their deploy records.
    for statement in ("UPDATE process_events SET actor = 'x'", "DELETE FROM process_events"):
        with pytest.raises(DBAPIError, match="append-only"), motcua.db.begin() as conn:
            conn.execute(text(statement))


def test_0005_carries_dead_and_half_sent_outbox_rows_over_to_deliveries(database_url, clock, settings):
    """A database from before per-receiver deliveries: a dead message that one receiver already
    had and another refused keeps both facts (the refusal stays a replayable dead letter, the
    receiver that had it is not sent it again); a row caught mid-send goes back to pending."""
    from sqlalchemy import text

    from engine.migrate import upgrade
    from engine.motcua import Motcua
    from engine.seed import load_seed

    m = Motcua(settings, clock=clock, database_url=database_url)
    upgrade(m.db, "0004")
    load_seed(m)
    m.deploy_processes()
    officer = m.actor_for("motcua_anbinh")
    for name in ("Võ Văn Kiệt", "Lý Thị Mai"):  # accepted at the desk: "received" goes out
        code = m.receive_dossier("2.000720", "XA_AN_BINH", actor=officer, applicant={"name": name}).case_code
        m.complete_task(m.open_tasks(code)[0].id, {"reception_decision": "accept"}, officer)
    with m.db.begin() as conn:
        dead, sending = conn.execute(text("SELECT id FROM outbox ORDER BY id")).scalars().all()[:2]
        conn.execute(text("UPDATE outbox SET state = 'dead' WHERE id = :id"), {"id": dead})
        conn.execute(text("UPDATE outbox SET state = 'sending' WHERE id = :id"), {"id": sending})
        for adapter, outcome, error in (
            ("dvcqg", "retry", "HTTP 503"),
            ("dvcqg", "delivered", ""),
            ("webhook:tinh", "dead", "HTTP 400"),
        ):
            conn.execute(
                text(
                    "INSERT INTO delivery_attempts (outbox_id, adapter, at, outcome, status_code, latency_ms,"
                    " error, response_excerpt) VALUES (:o, :a, :at, :outcome, NULL, 5, :e, '')"
                ),
                {"o": dead, "a": adapter, "at": clock.now(), "outcome": outcome, "e": error},
            )
    upgrade(m.db, "head")
    with m.db.begin() as conn:
        deliveries = {
            row.receiver: row
            for row in conn.execute(
                text("SELECT receiver, state, attempts, last_error FROM deliveries WHERE outbox_id = :id"),
                {"id": dead},
            )
        }
        unlinked = conn.execute(
            text("SELECT count(*) FROM delivery_attempts WHERE delivery_id IS NULL")
        ).scalar()
        state = conn.execute(text("SELECT state FROM outbox WHERE id = :id"), {"id": sending}).scalar()
    assert (deliveries["dvcqg"].state, deliveries["dvcqg"].attempts) == ("delivered", 2)
    assert (deliveries["webhook:tinh"].state, deliveries["webhook:tinh"].last_error) == ("dead", "HTTP 400")
    assert unlinked == 0
    assert state == "pending"
    m.db.dispose()

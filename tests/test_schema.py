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

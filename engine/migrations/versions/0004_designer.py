"""Process designer: drafts, and the process log (deployments, case migrations between versions).

Versions deployed before the log existed get their deploy record now (from the version row's own
who, when and why), so from here on every version has one. On PostgreSQL a trigger makes the
process log append-only, like case history.
Revision ID: 0004
Revises: 0003
"""
import hashlib
import json
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('process_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_id', sa.String(length=128), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('bpmn_xml', sa.Text(), nullable=False),
    sa.Column('forms', sa.JSON(), nullable=False),
    sa.Column('based_on_version', sa.Integer(), nullable=True),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deployed_version', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('process_drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_drafts_process_id'), ['process_id'], unique=False)

    op.create_table('process_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_id', sa.String(length=128), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('process_id', 'seq')
    )

    _record_existing_versions()

    if op.get_bind().dialect.name == "postgresql":
        # The process log is evidence too: refuse UPDATE and DELETE at the database itself.
        op.execute(
            """
            CREATE FUNCTION process_events_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'process_events is append-only (% refused)', TG_OP;
            END;
            $$ LANGUAGE plpgsql;
            """
        )
        op.execute(
            "CREATE TRIGGER process_events_no_change BEFORE UPDATE OR DELETE ON process_events "
            "FOR EACH ROW EXECUTE FUNCTION process_events_append_only();"
        )


def _record_existing_versions() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT id, process_id, version, sha256, filename, deployed_at, deployed_by, note "
        "FROM process_definitions ORDER BY process_id, version"
    )).all()
    events = []
    chain: dict[str, tuple[int, str]] = {}
    for row in rows:
        at = row.deployed_at
        if isinstance(at, str):  # SQLite hands raw text back: naive UTC
            at = datetime.fromisoformat(at)
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        seq, prev = chain.get(row.process_id, (0, "0" * 64))
        seq += 1
        data = {
            "version": row.version,
            "definition_id": row.id,
            "sha256": row.sha256,
            "note": row.note,
            "filename": row.filename,
        }
        digest = _event_hash(row.process_id, seq, "process_deployed", row.deployed_by, at, data, prev)
        chain[row.process_id] = (seq, digest)
        events.append({
            "process_id": row.process_id, "seq": seq, "type": "process_deployed",
            "actor": row.deployed_by, "at": at, "data": data, "prev_hash": prev, "hash": digest,
        })
    if events:
        table = sa.table(
            "process_events",
            sa.column("process_id", sa.String), sa.column("seq", sa.Integer), sa.column("type", sa.String),
            sa.column("actor", sa.String), sa.column("at", sa.DateTime(timezone=True)),
            sa.column("data", sa.JSON), sa.column("prev_hash", sa.String), sa.column("hash", sa.String),
        )
        op.bulk_insert(table, events)


def _event_hash(process_id, seq, type_, actor, at, data, prev_hash) -> str:
    # The canonical form of engine/process_log.py, frozen here so this migration never changes.
    canonical = json.dumps(
        {
            "process": process_id, "seq": seq, "type": type_, "actor": actor,
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"), "data": data, "prev": prev_hash,
        },
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS process_events_no_change ON process_events")
        op.execute("DROP FUNCTION IF EXISTS process_events_append_only()")

    op.drop_table('process_events')
    with op.batch_alter_table('process_drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_drafts_process_id'))

    op.drop_table('process_drafts')

"""Per-receiver deliveries, adapter pauses and the operator actions log.

Existing outbox rows are carried over as follows: `pending` and `sending` rows become `pending`
(not yet routed; the worker routes them with the configuration it runs with, and a receiver
that already answered 2xx in a `delivery_attempts` row gets its delivery created as delivered,
so it is not sent twice). `dead` rows get one delivery per receiver named in their attempts
(delivered if it had answered 2xx, dead otherwise), so the dead letters stay visible and
replayable. `delivered` and `skipped` rows need nothing.
Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('receiver', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('leased_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('outbox_id', 'receiver')
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_due', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_deliveries_receiver_case', ['receiver', 'case_id', 'outbox_id'], unique=False)

    op.create_table('adapter_pauses',
    sa.Column('receiver', sa.String(length=64), nullable=False),
    sa.Column('paused_by', sa.String(length=64), nullable=False),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('receiver')
    )
    op.create_table('operator_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('receiver', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivery_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_delivery_attempts_delivery_id'), ['delivery_id'], unique=False)
        batch_op.create_foreign_key(
            'fk_delivery_attempts_delivery_id_deliveries', 'deliveries', ['delivery_id'], ['id']
        )

    _carry_over_outbox_states()


def _carry_over_outbox_states() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE outbox SET state = 'pending' WHERE state = 'sending'"))
    tries = conn.execute(sa.text(
        "SELECT a.outbox_id, a.adapter, a.outcome, a.at, a.error, o.case_id, o.created_at "
        "FROM delivery_attempts a JOIN outbox o ON o.id = a.outbox_id "
        "WHERE o.state = 'dead' ORDER BY a.id"
    )).all()
    receivers: dict[tuple[int, str], dict] = {}
    for outbox_id, adapter, outcome, at, error, case_id, created_at in tries:
        row = receivers.setdefault((outbox_id, adapter), {
            'outbox_id': outbox_id, 'receiver': adapter, 'case_id': case_id, 'state': 'dead',
            'attempts': 0, 'next_attempt_at': None, 'leased_until': None,
            'created_at': created_at, 'delivered_at': None, 'last_error': '',
        })
        row['attempts'] += 1
        if outcome == 'delivered':
            row['state'], row['delivered_at'] = 'delivered', at
        elif row['state'] != 'delivered':
            row['last_error'] = error
    if not receivers:
        return
    conn.execute(sa.text(
        "INSERT INTO deliveries (outbox_id, receiver, case_id, state, attempts, next_attempt_at, "
        "leased_until, created_at, delivered_at, last_error) VALUES (:outbox_id, :receiver, "
        ":case_id, :state, :attempts, :next_attempt_at, :leased_until, :created_at, :delivered_at, "
        ":last_error)"
    ), list(receivers.values()))
    conn.execute(sa.text(
        "UPDATE delivery_attempts SET delivery_id = (SELECT d.id FROM deliveries d "
        "WHERE d.outbox_id = delivery_attempts.outbox_id AND d.receiver = delivery_attempts.adapter) "
        "WHERE delivery_id IS NULL"
    ))


def downgrade() -> None:

    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.drop_constraint('fk_delivery_attempts_delivery_id_deliveries', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_delivery_attempts_delivery_id'))
        batch_op.drop_column('delivery_id')

    op.drop_table('operator_actions')
    op.drop_table('adapter_pauses')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_receiver_case')
        batch_op.drop_index('ix_deliveries_due')

    op.drop_table('deliveries')

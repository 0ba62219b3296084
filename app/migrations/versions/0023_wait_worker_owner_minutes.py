"""queue waits per minute and backend, failures per minute and worker, workers busy and
idle per minute and backend, and each owner's jobs finished per minute and type (kept by
the transitions and the housekeeper; app.waits, app.worker_metrics, app.my_metrics)

Revision ID: 0023
Revises: 0022
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from app.db import UTCDateTime

revision: str = '0023'
down_revision: Union[str, None] = '0022'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BUCKETS = 20  # len(app.models.RUN_BOUNDS) + 1, written out: a migration does not follow the code


def _buckets():
    return [sa.Column(f'b{i}', sa.Integer(), nullable=False, server_default='0') for i in range(BUCKETS)]


def _n(name):
    return sa.Column(name, sa.Integer(), nullable=False, server_default='0')


def upgrade() -> None:
    op.create_table(
        'jobwaitminute',
        sa.Column('minute', UTCDateTime(), nullable=False),
        sa.Column('backend', sa.String(64), nullable=False),
        sa.Column('shard', sa.Integer(), nullable=False),
        _n('n'),
        sa.Column('wait_s', sa.Float(), nullable=False, server_default='0'),
        *_buckets(),
        sa.PrimaryKeyConstraint('minute', 'backend', 'shard'),
    )
    op.create_table(
        'workerfailureminute',
        sa.Column('minute', UTCDateTime(), nullable=False),
        sa.Column('worker', sa.String(128), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('backend', sa.String(64), nullable=False, server_default=''),
        _n('n'),
        sa.PrimaryKeyConstraint('minute', 'worker', 'status'),
    )
    op.create_table(
        'workerbusyminute',
        sa.Column('minute', UTCDateTime(), nullable=False),
        sa.Column('backend', sa.String(64), nullable=False),
        _n('samples'), _n('busy'), _n('idle'), _n('other'),
        sa.PrimaryKeyConstraint('minute', 'backend'),
    )
    op.create_table(
        'ownerjobminute',
        sa.Column('owner', sa.String(64), nullable=False),
        sa.Column('minute', UTCDateTime(), nullable=False),
        sa.Column('job_type', sa.String(32), nullable=False),
        _n('succeeded'), _n('failed'), _n('crashed'), _n('cancelled'), _n('ran'),
        sa.Column('run_s', sa.Float(), nullable=False, server_default='0'),
        *_buckets(),
        sa.PrimaryKeyConstraint('owner', 'minute', 'job_type'),
    )
    op.create_index('ix_ownerjobminute_minute', 'ownerjobminute', ['minute'])
    # Jobs that started or ended before these tables existed are not counted.


def downgrade() -> None:
    for t in ('ownerjobminute', 'workerbusyminute', 'workerfailureminute', 'jobwaitminute'):
        op.drop_table(t)

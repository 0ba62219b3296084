"""job counts per owner and status, kept by every change (app.counts); an index for
each filter of the jobs and items lists

Revision ID: 0008
Revises: 0002
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0008'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


_JOB_INDEXES = [
    ('ix_job_owner_status_created', ['owner', 'status', 'created_at', 'id']),
    ('ix_job_owner_type_created', ['owner', 'job_type', 'created_at', 'id']),
    ('ix_job_owner_subtype_created', ['owner', 'job_subtype', 'created_at', 'id']),
    ('ix_job_type_created', ['job_type', 'created_at', 'id']),
    ('ix_job_subtype_created', ['job_subtype', 'created_at', 'id']),
    ('ix_job_status_queue_created', ['status', 'queue', 'created_at']),
    ('ix_job_finished', ['finished_at']),
]
_ITEM_INDEXES = [
    ('ix_item_owner_subtype_created', ['owner', 'subtype', 'created_at', 'id']),
    ('ix_item_subtype_created', ['subtype', 'created_at', 'id']),
]


def upgrade() -> None:
    op.create_table('jobcount',
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('shard', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('owner', 'status', 'shard')
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        for name, cols in _JOB_INDEXES:
            batch_op.create_index(name, cols, unique=False)
    with op.batch_alter_table('item', schema=None) as batch_op:
        for name, cols in _ITEM_INDEXES:
            batch_op.create_index(name, cols, unique=False)
    # Existing jobs, counted once, into shard 0 (a count is the sum of its shards), per
    # owner and for everyone ("*"). `python -m app.manage rebuild-counts` does it again.
    op.execute("INSERT INTO jobcount (owner, status, shard, n) "
               "SELECT owner, status, 0, count(*) FROM job GROUP BY owner, status")
    op.execute("INSERT INTO jobcount (owner, status, shard, n) "
               "SELECT '*', status, 0, count(*) FROM job GROUP BY status")


def downgrade() -> None:
    with op.batch_alter_table('item', schema=None) as batch_op:
        for name, _ in _ITEM_INDEXES:
            batch_op.drop_index(name)
    with op.batch_alter_table('job', schema=None) as batch_op:
        for name, _ in _JOB_INDEXES:
            batch_op.drop_index(name)
    op.drop_table('jobcount')

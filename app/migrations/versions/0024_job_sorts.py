"""the jobs panel sorts by started and by run time: each job's run time kept (started
to finished, in ms), and an index per sort, of one owner and of everyone's; one
owner's ids in order, for a search by id prefix

Revision ID: 0024
Revises: 0023
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0024'
down_revision: Union[str, None] = '0023'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

STARTED = 'started_at IS NOT NULL'
RAN = 'ran_ms IS NOT NULL'
INDEXES = (('ix_job_owner_started', ['owner', 'started_at', 'id'], STARTED),
           ('ix_job_started', ['started_at', 'id'], STARTED),
           ('ix_job_owner_ran', ['owner', 'ran_ms', 'id'], RAN),
           ('ix_job_ran', ['ran_ms', 'id'], RAN))


def upgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ran_ms', sa.BigInteger(), nullable=True))
    # Once, for the jobs that ended before: their run time from their own times.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE job SET ran_ms = CAST(ROUND(EXTRACT(EPOCH FROM (finished_at - started_at)) * 1000) "
                   "AS BIGINT) WHERE finished_at IS NOT NULL AND started_at IS NOT NULL")
    else:
        op.execute("UPDATE job SET ran_ms = CAST(ROUND((julianday(finished_at) - julianday(started_at)) "
                   "* 86400000.0) AS INTEGER) WHERE finished_at IS NOT NULL AND started_at IS NOT NULL")
    with op.batch_alter_table('job', schema=None) as batch_op:
        for name, columns, where in INDEXES:
            batch_op.create_index(name, columns, unique=False, sqlite_where=sa.text(where),
                                  postgresql_where=sa.text(where))
        batch_op.create_index('ix_job_owner_id', ['owner', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_owner_id')
        for name, _, where in INDEXES:
            batch_op.drop_index(name, sqlite_where=sa.text(where), postgresql_where=sa.text(where))
        batch_op.drop_column('ran_ms')

"""fair use and priorities: a job's priority, a pipeline's own limits, and the indexes
that count a submitter's live runs

Revision ID: 0013
Revises: 0012
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0013'
down_revision: Union[str, None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

LIVE_PIPELINE_JOB = "job_type = 'PIPELINE' AND status IN ('PENDING', 'DEQUEUED', 'IN_PROGRESS')"


def upgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False,
                                      server_default='normal'))
    with op.batch_alter_table('pipeline', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue_hog_size', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('queue_hard_limit', sa.Integer(), nullable=True))
    owner_cond = sa.text(LIVE_PIPELINE_JOB + " AND client_addr IS NULL")
    addr_cond = sa.text(LIVE_PIPELINE_JOB + " AND client_addr IS NOT NULL")
    op.create_index('ix_job_live_runs_owner', 'job', ['owner', 'workflow_id'],
                    sqlite_where=owner_cond, postgresql_where=owner_cond)
    op.create_index('ix_job_live_runs_addr', 'job', ['client_addr', 'workflow_id'],
                    sqlite_where=addr_cond, postgresql_where=addr_cond)


def downgrade() -> None:
    op.drop_index('ix_job_live_runs_addr', table_name='job')
    op.drop_index('ix_job_live_runs_owner', table_name='job')
    with op.batch_alter_table('pipeline', schema=None) as batch_op:
        batch_op.drop_column('queue_hard_limit')
        batch_op.drop_column('queue_hog_size')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_column('priority')

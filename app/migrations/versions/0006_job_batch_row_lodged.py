"""a job's row in its batch, who lodged it, when its attempt was lodged

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-02 10:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel
import app.db


revision: str = '0006'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch_row', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('lodged_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('lodged_at', app.db.UTCDateTime(), nullable=True))
        batch_op.create_index('ix_job_batch_row', ['batch_id', 'batch_row', 'id'], unique=False)
    # Jobs lodged before: a batch's rows in the order (created_at, id) gave them, and each
    # attempt from its first move to PENDING (its lodging, or the retry that began it).
    # Who lodged them is not known for sure (the history's words say it); left empty.
    op.execute("""
        UPDATE job SET batch_row = numbered.n
        FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY batch_id ORDER BY created_at, id) AS n
              FROM job WHERE batch_id IS NOT NULL) AS numbered
        WHERE numbered.id = job.id
    """)
    op.execute("""
        UPDATE job SET lodged_at = COALESCE(
            (SELECT MIN(m.at) FROM jobmessage m
             WHERE m.job_id = job.id AND m.attempt = job.attempt AND m.status = 'PENDING'),
            created_at)
    """)


def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_batch_row')
        batch_op.drop_column('lodged_at')
        batch_op.drop_column('lodged_by')
        batch_op.drop_column('batch_row')

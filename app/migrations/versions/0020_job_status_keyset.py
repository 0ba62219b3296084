"""bulk actions: a status's and a workflow's jobs read in keyset order

A bulk action over every user's jobs of a status (an admin cancelling all live jobs),
or over a workflow's, pages them by `(created_at, id)`. `(status, created_at)` and
`(workflow_id, created_at)` left the id out, so jobs of one time (a batch is lodged at
one time for all) had to be sorted on each page; with the id they are read in order,
and every lookup the old indexes served is served, so those go.

Revision ID: 0020
Revises: 0019
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0020'
down_revision: Union[str, None] = '0019'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_job_status_created_id', 'job', ['status', 'created_at', 'id'], unique=False)
    op.drop_index('ix_job_status_created', table_name='job')
    op.create_index('ix_job_workflow_created_id', 'job', ['workflow_id', 'created_at', 'id'], unique=False)
    op.drop_index('ix_job_workflow', table_name='job')


def downgrade() -> None:
    op.create_index('ix_job_workflow', 'job', ['workflow_id', 'created_at'], unique=False)
    op.drop_index('ix_job_workflow_created_id', table_name='job')
    op.create_index('ix_job_status_created', 'job', ['status', 'created_at'], unique=False)
    op.drop_index('ix_job_status_created_id', table_name='job')

"""a run's root names its pipeline: a pipeline's past runs read through an index, of one
owner or everyone's, newest first (runs lodged before are given theirs from the payload)

Revision ID: 0021
Revises: 0020
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0021'
down_revision: Union[str, None] = '0020'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

WHERE = 'pipeline_id IS NOT NULL'
CHUNK = 1000


def upgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pipeline_id', sa.Integer(), nullable=True))
    # Once, for the runs lodged before: each root's pipeline from its payload, in chunks.
    job = sa.table('job', sa.column('id', sa.String), sa.column('workflow_id', sa.String),
                   sa.column('job_type', sa.String), sa.column('job_subtype', sa.String),
                   sa.column('payload', sa.JSON), sa.column('pipeline_id', sa.Integer))
    conn = op.get_bind()
    after = ''
    while True:
        rows = conn.execute(sa.select(job.c.id, job.c.payload)
                            .where(job.c.job_type == 'PIPELINE', job.c.job_subtype == 'RUN_TASK',
                                   job.c.workflow_id == job.c.id, job.c.id > after)
                            .order_by(job.c.id).limit(CHUNK)).all()
        if not rows:
            break
        for r in rows:
            pid = (r.payload or {}).get('pipeline_id') if isinstance(r.payload, dict) else None
            if isinstance(pid, int):
                conn.execute(sa.update(job).where(job.c.id == r.id).values(pipeline_id=pid))
        after = rows[-1].id
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index('ix_job_pipeline_owner_created', ['pipeline_id', 'owner', 'created_at', 'id'],
                              unique=False, sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE))
        batch_op.create_index('ix_job_pipeline_created', ['pipeline_id', 'created_at', 'id'], unique=False,
                              sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE))


def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_pipeline_created', sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE))
        batch_op.drop_index('ix_job_pipeline_owner_created', sqlite_where=sa.text(WHERE),
                            postgresql_where=sa.text(WHERE))
        batch_op.drop_column('pipeline_id')

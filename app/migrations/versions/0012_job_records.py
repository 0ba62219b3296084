"""provenance records of job runs, worker environments kept once per fingerprint, and
reproductions (app.records)

Revision ID: 0012
Revises: 0011
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

import app.db


revision: str = '0012'
down_revision: Union[str, None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _s(n: int):
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def upgrade() -> None:
    ts = app.db.UTCDateTime
    op.create_table('jobrecord',
    sa.Column('job_id', _s(64), nullable=False),
    sa.Column('owner', _s(64), nullable=False),
    sa.Column('lodged_by', _s(64), nullable=False),
    sa.Column('job_type', _s(32), nullable=False),
    sa.Column('job_subtype', _s(64), nullable=False),
    sa.Column('workflow_id', _s(64), nullable=True),
    sa.Column('parent_job_id', _s(64), nullable=True),
    sa.Column('batch_id', _s(64), nullable=True),
    sa.Column('step_key', _s(256), nullable=False),
    sa.Column('status', _s(16), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('outputs', sa.JSON(), nullable=False),
    sa.Column('code', sa.JSON(), nullable=False),
    sa.Column('host', _s(256), nullable=False),
    sa.Column('worker', _s(128), nullable=False),
    sa.Column('environment', _s(64), nullable=False),
    sa.Column('attempts', sa.JSON(), nullable=False),
    sa.Column('created_at', ts(), nullable=False),
    sa.Column('lodged_at', ts(), nullable=True),
    sa.Column('dequeued_at', ts(), nullable=True),
    sa.Column('started_at', ts(), nullable=True),
    sa.Column('finished_at', ts(), nullable=True),
    sa.Column('recorded_at', ts(), nullable=False),
    sa.PrimaryKeyConstraint('job_id')
    )
    op.create_index('ix_job_record_workflow', 'jobrecord', ['workflow_id', 'created_at'], unique=False)
    op.create_index('ix_job_record_owner_created', 'jobrecord', ['owner', 'created_at'], unique=False)
    op.create_table('workerenvironment',
    sa.Column('fingerprint', _s(64), nullable=False),
    sa.Column('python', _s(64), nullable=False),
    sa.Column('implementation', _s(32), nullable=False),
    sa.Column('packages', sa.JSON(), nullable=False),
    sa.Column('created_at', ts(), nullable=False),
    sa.PrimaryKeyConstraint('fingerprint')
    )
    op.create_table('jobreproduction',
    sa.Column('job_id', _s(64), nullable=False),
    sa.Column('of_job_id', _s(64), nullable=False),
    sa.Column('scope', _s(16), nullable=False),
    sa.Column('lodged_by', _s(64), nullable=False),
    sa.Column('created_at', ts(), nullable=False),
    sa.PrimaryKeyConstraint('job_id')
    )
    op.create_index(op.f('ix_jobreproduction_of_job_id'), 'jobreproduction', ['of_job_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_jobreproduction_of_job_id'), table_name='jobreproduction')
    op.drop_table('jobreproduction')
    op.drop_table('workerenvironment')
    op.drop_index('ix_job_record_owner_created', table_name='jobrecord')
    op.drop_index('ix_job_record_workflow', table_name='jobrecord')
    op.drop_table('jobrecord')

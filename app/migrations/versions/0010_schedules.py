"""periodic jobs: schedules and their firings

Revision ID: 0010
Revises: 0009
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

import app.db


revision: str = '0010'
down_revision: Union[str, None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'schedule',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('job_type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('job_subtype', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('cron', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('paused', sa.Boolean(), nullable=False),
        sa.Column('created_at', app.db.UTCDateTime(), nullable=False),
        sa.Column('next_at', app.db.UTCDateTime(), nullable=True),
        sa.Column('last_due_at', app.db.UTCDateTime(), nullable=True),
        sa.Column('last_job_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('missed', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )
    op.create_index('ix_schedule_due', 'schedule', ['paused', 'next_at'])
    op.create_table(
        'schedulefiring',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('schedule_id', sa.Integer(), nullable=False),
        sa.Column('due_at', app.db.UTCDateTime(), nullable=False),
        sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('job_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column('at', app.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['schedule_id'], ['schedule.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('schedule_id', 'due_at', name='uq_schedule_firing'),
    )


def downgrade() -> None:
    op.drop_table('schedulefiring')
    op.drop_index('ix_schedule_due', table_name='schedule')
    op.drop_table('schedule')

"""jobs finished per minute (type, subtype, backend, final status): counts, run seconds
and the run-time histogram, kept by every final transition (app.metrics)

Revision ID: 0018
Revises: 0017
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from app.db import UTCDateTime

revision: str = '0018'
down_revision: Union[str, None] = '0017'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BUCKETS = 20  # len(app.models.RUN_BOUNDS) + 1, written out: a migration does not follow the code


def upgrade() -> None:
    op.create_table(
        'jobminute',
        sa.Column('minute', UTCDateTime(), nullable=False),
        sa.Column('job_type', sa.String(32), nullable=False),
        sa.Column('job_subtype', sa.String(64), nullable=False),
        sa.Column('backend', sa.String(64), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('shard', sa.Integer(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('ran', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('run_s', sa.Float(), nullable=False, server_default='0'),
        *(sa.Column(f'b{i}', sa.Integer(), nullable=False, server_default='0') for i in range(BUCKETS)),
        sa.PrimaryKeyConstraint('minute', 'job_type', 'job_subtype', 'backend', 'status', 'shard'),
    )
    # Jobs that ended before the table existed are not counted: the totals start now.


def downgrade() -> None:
    op.drop_table('jobminute')

"""pipelines runnable and public, switch parameters (bool_valued), and the run times
runtime estimates read

Revision ID: 0014
Revises: 0013
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

from app.db import UTCDateTime

revision: str = '0014'
down_revision: Union[str, None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('taskparameter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bool_valued', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('pipeline', schema=None) as batch_op:
        batch_op.add_column(sa.Column('runnable', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('public', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table('run_time',
    sa.Column('run_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('finished_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('run_id'))
    op.create_index('ix_run_time_pipeline_finished', 'run_time', ['pipeline_id', 'finished_at'])


def downgrade() -> None:
    op.drop_index('ix_run_time_pipeline_finished', table_name='run_time')
    op.drop_table('run_time')
    with op.batch_alter_table('pipeline', schema=None) as batch_op:
        batch_op.drop_column('public')
        batch_op.drop_column('runnable')
    with op.batch_alter_table('taskparameter', schema=None) as batch_op:
        batch_op.drop_column('bool_valued')

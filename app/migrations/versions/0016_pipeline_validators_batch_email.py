"""a pipeline's input validators; the address a batch's end is mailed to

Revision ID: 0016
Revises: 0015
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0016'
down_revision: Union[str, None] = '0015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('pipeline', schema=None) as batch_op:
        batch_op.add_column(sa.Column('validators', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.drop_column('email')
    with op.batch_alter_table('pipeline', schema=None) as batch_op:
        batch_op.drop_column('validators')

"""a paused backend remembers the max workers it had, for its resume

Revision ID: 0019
Revises: 0018
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0019'
down_revision: Union[str, None] = '0018'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('backend', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resume_workers', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('backend', schema=None) as batch_op:
        batch_op.drop_column('resume_workers')

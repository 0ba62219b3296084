"""a task's environment variables, its automatic retries and the software version its
steps' records name

Revision ID: 0025
Revises: 0024
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision: str = '0025'
down_revision: Union[str, None] = '0024'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('task') as batch:
        batch.add_column(sa.Column('environment', sa.JSON(), nullable=False, server_default='{}'))
        batch.add_column(sa.Column('retries', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('software_version', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('task') as batch:
        batch.drop_column('software_version')
        batch.drop_column('retries')
        batch.drop_column('environment')

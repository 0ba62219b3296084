"""the address an anonymous submission came from, and its fair-use index

Revision ID: 0009
Revises: 0005
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0009'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_addr', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.create_index('ix_job_client_addr_status', 'job', ['client_addr', 'status'],
                    sqlite_where=sa.text('client_addr IS NOT NULL'),
                    postgresql_where=sa.text('client_addr IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_job_client_addr_status', table_name='job')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_column('client_addr')

"""a job's subject; the rules of a task's parameters

Revision ID: 0005
Revises: 0002
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False, server_default=''))
    with op.batch_alter_table('taskparameter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='text'))
        batch_op.add_column(sa.Column('choices', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('minimum', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('maximum', sa.Float(), nullable=True))
    # Jobs lodged before: the item a registry job is about, the label of the batch a job is in.
    op.execute("UPDATE job SET subject = (SELECT substr(item.display_name, 1, 256) FROM item "
               "WHERE item.id = job.entity_id) WHERE entity_id IS NOT NULL "
               "AND EXISTS (SELECT 1 FROM item WHERE item.id = job.entity_id)")
    op.execute("UPDATE job SET subject = (SELECT batch.label FROM batch WHERE batch.id = job.batch_id) "
               "WHERE batch_id IS NOT NULL AND subject = '' "
               "AND EXISTS (SELECT 1 FROM batch WHERE batch.id = job.batch_id)")


def downgrade() -> None:
    with op.batch_alter_table('taskparameter', schema=None) as batch_op:
        batch_op.drop_column('maximum')
        batch_op.drop_column('minimum')
        batch_op.drop_column('choices')
        batch_op.drop_column('type')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_column('subject')

"""the audit log: hash-chained entries, one index per filter, and the chain's head

Revision ID: 0017
Revises: 0016
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

from app.db import UTCDateTime

revision: str = '0017'
down_revision: Union[str, None] = '0016'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

GENESIS = "0" * 64


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        'auditentry',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('actor', text(length=64), nullable=False),
        sa.Column('address', text(length=64), nullable=False),
        sa.Column('via', text(length=16), nullable=False),
        sa.Column('action', text(length=64), nullable=False),
        sa.Column('target', text(length=256), nullable=False),
        sa.Column('outcome', text(length=16), nullable=False),
        sa.Column('message', text(length=1024), nullable=False),
        sa.Column('prev_hash', text(length=64), nullable=False),
        sa.Column('hash', text(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    for name, col in (('actor', 'actor'), ('action', 'action'), ('target', 'target'),
                      ('outcome', 'outcome'), ('created', 'created_at')):
        op.create_index(f'ix_audit_{name}', 'auditentry', [col, 'id'])
    head = op.create_table(
        'audithead',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('hash', text(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.bulk_insert(head, [{'id': 1, 'seq': 0, 'hash': GENESIS}])


def downgrade() -> None:
    op.drop_table('audithead')
    for name in ('actor', 'action', 'target', 'outcome', 'created'):
        op.drop_index(f'ix_audit_{name}', table_name='auditentry')
    op.drop_table('auditentry')

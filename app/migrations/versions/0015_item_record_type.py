"""an item's record type (complete, or a seed lacking a field its kind needs), with
the index of Provena's registry lists by kind and record type

Revision ID: 0015
Revises: 0014
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0015'
down_revision: Union[str, None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_type', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                      server_default='COMPLETE_ITEM'))
    op.create_index('ix_item_subtype_rtype_created', 'item', ['subtype', 'record_type', 'created_at', 'id'])
    # Items made before: a kind with required fields whose record lacks one is a seed.
    from app.item_kinds import ITEM_FIELDS, SEED, record_type

    conn = op.get_bind()
    item = sa.table('item', sa.column('id', sa.String), sa.column('subtype', sa.String),
                    sa.column('record', sa.JSON), sa.column('description', sa.String),
                    sa.column('record_type', sa.String))
    kinds = [k for k, fields in ITEM_FIELDS.items() if any(f.required for f in fields)]
    last = ''
    while True:  # in chunks by id: a large registry is never read at once
        rows = conn.execute(sa.select(item.c.id, item.c.subtype, item.c.record, item.c.description)
                            .where(item.c.subtype.in_(kinds), item.c.id > last)
                            .order_by(item.c.id).limit(1000)).all()
        if not rows:
            break
        seeds = [r.id for r in rows if record_type(r.subtype, r.record or {}, r.description or '') == SEED]
        if seeds:
            conn.execute(sa.update(item).where(item.c.id.in_(seeds)).values(record_type=SEED))
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index('ix_item_subtype_rtype_created', table_name='item')
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_column('record_type')

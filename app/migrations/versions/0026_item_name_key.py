"""the item-name index: names folded (lower, compared byte by byte), then id, so a search
by the start of a name reads one range of it (app.item_search)

Revision ID: 0026
Revises: 0025
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0026'
down_revision: Union[str, None] = '0025'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # The expression as app.db.name_key compiles it on each database: PostgreSQL compares
    # it in the "C" collation, whatever the database's own, so a prefix is one range.
    if op.get_bind().dialect.name == "postgresql":
        op.execute('CREATE INDEX ix_item_name_key ON item (lower(display_name) COLLATE "C", id)')
    else:
        op.execute('CREATE INDEX ix_item_name_key ON item (lower(display_name), id)')


def downgrade() -> None:
    op.drop_index('ix_item_name_key', table_name='item')

"""lineage walks: a prov edge's links into a node read in index order

Upstream walks read `uq_prov_edge (subject, relation, object)`. Downstream ones read
`(object, relation, subject)`, which also serves every lookup `ix_prov_edge_object`
served, so that one goes.

Revision ID: 0011
Revises: 0010
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0011'
down_revision: Union[str, None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_prov_edge_object_relation_subject', 'provedge', ['object', 'relation', 'subject'],
                    unique=False)
    op.drop_index('ix_prov_edge_object', table_name='provedge')


def downgrade() -> None:
    op.create_index('ix_prov_edge_object', 'provedge', ['object'], unique=False)
    op.drop_index('ix_prov_edge_object_relation_subject', table_name='provedge')

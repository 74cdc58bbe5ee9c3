"""covering index on item_tags (kind, value, item_id) for account aggregates

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_item_tags_kind_value_item", "item_tags", ["kind", "value", "item_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_item_tags_kind_value_item", table_name="item_tags")

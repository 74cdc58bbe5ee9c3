"""sources.notes: advice on a source whose last fetch worked (permanent redirect, selectors, skipped rows)

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sources", sa.Column("notes", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("sources", "notes")

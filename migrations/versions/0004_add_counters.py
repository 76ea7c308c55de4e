"""add counters

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 08:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("scope", sa.Uuid(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", "scope", name=op.f("pk_counters")),
    )


def downgrade() -> None:
    op.drop_table("counters")

"""add user names

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 11:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_users = sa.table("users", sa.column("email", sa.String()), sa.column("name", sa.String()))


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=100), nullable=True))

    # Every account is named as registration names one sent without a name: its email's local
    # part, cut to 100 characters (the whole email, cut, should one have no local part).
    position = sa.func.instr if op.get_bind().dialect.name == "sqlite" else sa.func.strpos
    at = position(_users.c.email, "@")
    local_part = sa.case((at > 1, sa.func.substr(_users.c.email, 1, at - 1)), else_=_users.c.email)
    op.execute(_users.update().values(name=sa.func.substr(local_part, 1, 100)))

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("name", existing_type=sa.String(length=100), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("name")

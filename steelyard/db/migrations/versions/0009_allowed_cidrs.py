"""Listener allowed_cidrs (Octavia v2.12): who may connect to a listener

Adds `listeners.allowed_cidrs`, a JSON list of networks as the client gave them. Existing
listeners get `[]`: everyone may connect, as before.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A literal server default: SQLite adds the column in place (see 0002).
    with op.batch_alter_table("listeners", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("allowed_cidrs", sa.JSON(), server_default="[]", nullable=False)
        )


def downgrade() -> None:
    # recreate="never": SQLite drops a plain column in place; a rebuild would fail on the
    # foreign keys (see 0002).
    with op.batch_alter_table("listeners", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("allowed_cidrs")

"""Resync requests counted per load balancer

Adds `loadbalancers.resyncs_requested` (not null, 0 for existing rows). A resync (operator,
failover, drift) adds one; the reconciler records a generation as applied only if no resync
was requested while it applied it, so a resync that arrives during an apply is not lost.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 08:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant server default: SQLite adds the column in place (see 0002).
    with op.batch_alter_table("loadbalancers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("resyncs_requested", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    # recreate="never": SQLite drops a plain column in place (see 0002).
    with op.batch_alter_table("loadbalancers", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("resyncs_requested")

"""rejection counters per listener and reason (issue 5)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 23:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "listener_rejections",
        sa.Column("listener_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("loadbalancer_id", sa.String(length=36), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("listener_id", "reason"),
    )
    with op.batch_alter_table("listener_rejections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_listener_rejections_loadbalancer_id"), ["loadbalancer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("listener_rejections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_listener_rejections_loadbalancer_id"))
    op.drop_table("listener_rejections")

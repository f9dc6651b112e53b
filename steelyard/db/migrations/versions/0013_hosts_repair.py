"""hosts, load balancers' migration hosts and repair requests (issue 4, repair)

Three new tables; nothing existing changes. Hosts are written at every server start from
`serve --host` (appliances of earlier versions name the machine, which becomes a host then).

Revision ID: 0013
Revises: 0009
Create Date: 2026-11-26 04:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hosts",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("host_group", sa.String(length=63), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "loadbalancer_hosts",
        sa.Column("loadbalancer_id", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=63), nullable=False),
        sa.PrimaryKeyConstraint("loadbalancer_id"),
    )
    op.create_table(
        "repair_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("loadbalancer_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_repair_requests_loadbalancer_id", "repair_requests", ["loadbalancer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_repair_requests_loadbalancer_id", table_name="repair_requests")
    op.drop_table("repair_requests")
    op.drop_table("loadbalancer_hosts")
    op.drop_table("hosts")

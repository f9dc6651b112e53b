"""appliance redundancy: VRRP addresses, heartbeats, failures, spares (issue 3)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 01:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns or literal server defaults only: SQLite adds them in place (see 0002).
    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("router_ip", sa.String(length=64), nullable=True))
    with op.batch_alter_table("loadbalancers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("appliance_count", sa.Integer(), server_default="1", nullable=False)
        )
    with op.batch_alter_table("appliances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vrrp_ip", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("vrrp_priority", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("availability_zone", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("heartbeat_seq", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("last_heartbeat_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("failed_reason", sa.Text(), nullable=True))
        batch_op.create_index("ix_appliances_status", ["status"], unique=False)


def downgrade() -> None:
    # recreate="never": SQLite drops plain columns in place; a rebuilt table would fail on the
    # foreign keys (see 0002).
    with op.batch_alter_table("appliances", schema=None, recreate="never") as batch_op:
        batch_op.drop_index("ix_appliances_status")
        for column in (
            "failed_reason",
            "failed_at",
            "last_heartbeat_at",
            "heartbeat_seq",
            "availability_zone",
            "vrrp_priority",
            "vrrp_ip",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("loadbalancers", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("appliance_count")
    with op.batch_alter_table("networks", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("router_ip")

"""Metering (issue 4): every traffic counter per listener, pool, member and appliance; usage

Adds to `listener_stats` the connection and response errors, the request count and every HTTP
status class (existing rows start them at 0) and widens its counters to 64 bits; adds
`pool_stats`, `member_stats` and `appliance_listener_stats` with the same counters, and the
usage tables (`usage_records` per load balancer and hour, `usage_meters` how far each is
accrued).

Revision ID: 0012
Revises: 0009
Create Date: 2026-11-26 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDENED = ("bytes_in", "bytes_out", "active_connections", "total_connections", "request_errors")
ADDED = (
    "connection_errors",
    "response_errors",
    "requests",
    "hrsp_1xx",
    "hrsp_2xx",
    "hrsp_3xx",
    "hrsp_4xx",
    "hrsp_5xx",
    "hrsp_other",
)


def _counter(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def _counters() -> list[sa.Column[int]]:
    return [_counter(name) for name in (*WIDENED, *ADDED)]


def _stats_table(name: str, keys: Sequence[str], *indexed: str) -> None:
    op.create_table(
        name,
        *(sa.Column(key, sa.String(length=36), nullable=False) for key in keys),
        *(sa.Column(column, sa.String(length=36), nullable=False) for column in indexed),
        *_counters(),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint(*keys),
    )
    for column in indexed:
        op.create_index(f"ix_{name}_{column}", name, [column], unique=False)


def upgrade() -> None:
    # listener_stats has no foreign keys: SQLite's batch mode may rebuild it to change types.
    with op.batch_alter_table("listener_stats", schema=None) as batch_op:
        for name in WIDENED:
            batch_op.alter_column(
                name, type_=sa.BigInteger(), existing_type=sa.Integer(), server_default="0"
            )
        for name in ADDED:
            batch_op.add_column(_counter(name))
    _stats_table("pool_stats", ["pool_id"], "loadbalancer_id")
    _stats_table("member_stats", ["member_id"], "pool_id", "loadbalancer_id")
    _stats_table("appliance_listener_stats", ["appliance_id", "listener_id"], "loadbalancer_id")
    op.create_table(
        "usage_records",
        sa.Column("loadbalancer_id", sa.String(length=36), nullable=False),
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        _counter("bytes_in"),
        _counter("bytes_out"),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("loadbalancer_id", "hour"),
    )
    op.create_index("ix_usage_records_hour", "usage_records", ["hour"], unique=False)
    op.create_index("ix_usage_records_project_id", "usage_records", ["project_id"], unique=False)
    op.create_table(
        "usage_meters",
        sa.Column("loadbalancer_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("accrued_until", sa.DateTime(), nullable=False),
        _counter("bytes_in_seen"),
        _counter("bytes_out_seen"),
        sa.PrimaryKeyConstraint("loadbalancer_id"),
    )


def downgrade() -> None:
    op.drop_table("usage_meters")
    op.drop_index("ix_usage_records_project_id", table_name="usage_records")
    op.drop_index("ix_usage_records_hour", table_name="usage_records")
    op.drop_table("usage_records")
    for name in ("appliance_listener_stats", "member_stats", "pool_stats"):
        op.drop_table(name)
    with op.batch_alter_table("listener_stats", schema=None) as batch_op:
        for name in ADDED:
            batch_op.drop_column(name)
        for name in WIDENED:
            batch_op.alter_column(
                name, type_=sa.Integer(), existing_type=sa.BigInteger(), server_default=None
            )

"""flow logs and admin logs (issue 4)

Adds `flow_logs` (HAProxy's access log of every load balancer) and `admin_logs` (the agents',
HAProxy's and keepalived's messages), filled by the log collector and pruned by age and row
count. New tables only: existing rows are untouched.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flow_logs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("loadbalancer_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("listener_id", sa.String(length=36), nullable=False),
        sa.Column("appliance", sa.String(length=40), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("client_port", sa.Integer(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("http_method", sa.String(length=32), nullable=True),
        sa.Column("request_uri", sa.Text(), nullable=True),
        sa.Column("http_version", sa.String(length=16), nullable=True),
        sa.Column("bytes_in", sa.BigInteger(), nullable=True),
        sa.Column("bytes_out", sa.BigInteger(), nullable=True),
        sa.Column("pool_id", sa.String(length=36), nullable=True),
        sa.Column("member_id", sa.String(length=36), nullable=True),
        sa.Column("time_request_ms", sa.Integer(), nullable=True),
        sa.Column("time_queue_ms", sa.Integer(), nullable=True),
        sa.Column("time_connect_ms", sa.Integer(), nullable=True),
        sa.Column("time_response_ms", sa.Integer(), nullable=True),
        sa.Column("time_total_ms", sa.Integer(), nullable=True),
        sa.Column("termination_state", sa.String(length=4), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_flow_logs_created_at", "flow_logs", ["created_at"])
    op.create_index("ix_flow_logs_lb_time", "flow_logs", ["loadbalancer_id", "created_at"])
    op.create_index(
        "ix_flow_logs_lb_status", "flow_logs", ["loadbalancer_id", "status_code", "created_at"]
    )
    op.create_table(
        "admin_logs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("appliance", sa.String(length=40), nullable=True),
        sa.Column("loadbalancer_id", sa.String(length=36), nullable=True),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_admin_logs_created_at", "admin_logs", ["created_at"])
    op.create_index("ix_admin_logs_lb_time", "admin_logs", ["loadbalancer_id", "created_at"])
    op.create_index("ix_admin_logs_source_time", "admin_logs", ["source", "created_at"])
    op.create_index("ix_admin_logs_appliance_time", "admin_logs", ["appliance", "created_at"])


def downgrade() -> None:
    op.drop_table("admin_logs")
    op.drop_table("flow_logs")

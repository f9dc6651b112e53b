"""protection settings (issue 5) and the event log

Adds the tenant's `listeners.protection`, the operator's `loadbalancers.protection_override`
and `loadbalancers.under_attack`, the `deployment_settings` table (protection defaults) and
the generic `events` table. Existing rows keep working unchanged: no protection, not under
attack, no defaults.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns, and one with a literal server default: SQLite adds them in place
    # (ALTER TABLE ADD COLUMN). A rebuilt table would have to be dropped, which the foreign
    # keys of existing rows forbid (PRAGMA foreign_keys=ON, inside the migration's
    # transaction); an expression default such as sa.false() would force that rebuild.
    with op.batch_alter_table("listeners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("protection", sa.JSON(), nullable=True))

    with op.batch_alter_table("loadbalancers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("protection_override", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("under_attack", sa.Boolean(), server_default="0", nullable=False)
        )

    op.create_table(
        "deployment_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )

    op.create_table(
        "events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("loadbalancer_id", sa.String(length=36), nullable=True),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("listener_id", sa.String(length=36), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_type"), ["type"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_events_loadbalancer_id"), ["loadbalancer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_events_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    # recreate="never": SQLite (3.35+) drops plain columns in place; a rebuild would fail on
    # the foreign keys, as above.
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_project_id"))
        batch_op.drop_index(batch_op.f("ix_events_loadbalancer_id"))
        batch_op.drop_index(batch_op.f("ix_events_type"))
        batch_op.drop_index(batch_op.f("ix_events_created_at"))
    op.drop_table("events")
    op.drop_table("deployment_settings")

    with op.batch_alter_table("loadbalancers", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("under_attack")
        batch_op.drop_column("protection_override")

    with op.batch_alter_table("listeners", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("protection")

"""flavors, flavor profiles, availability zones and their profiles, quotas (issue 6)

New tables only: existing load balancers keep their topology and appliance count, and with no
quota rows and no "quota_defaults" setting every project stays unlimited.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 10:00:00.000000
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stamps() -> list[sa.Column[datetime]]:
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
    ]


def _profile(table: str, data_column: str) -> None:
    op.create_table(
        table,
        *_stamps(),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("provider_name", sa.String(length=64), nullable=False),
        sa.Column(data_column, sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def upgrade() -> None:
    _profile("flavor_profiles", "flavor_data")
    op.create_table(
        "flavors",
        *_stamps(),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("flavor_profile_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["flavor_profile_id"], ["flavor_profiles.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_index("ix_flavors_flavor_profile_id", "flavors", ["flavor_profile_id"])

    _profile("availability_zone_profiles", "availability_zone_data")
    op.create_table(
        "availability_zones",
        *_stamps(),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("availability_zone_profile_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["availability_zone_profile_id"], ["availability_zone_profiles.id"]
        ),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index(
        "ix_availability_zones_availability_zone_profile_id",
        "availability_zones",
        ["availability_zone_profile_id"],
    )

    op.create_table(
        "quotas",
        *_stamps(),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        *(
            sa.Column(kind, sa.Integer(), nullable=True)
            for kind in (
                "load_balancer",
                "listener",
                "pool",
                "health_monitor",
                "member",
                "l7policy",
                "l7rule",
            )
        ),
        sa.PrimaryKeyConstraint("project_id"),
    )


def downgrade() -> None:
    op.drop_table("quotas")
    op.drop_index("ix_availability_zones_availability_zone_profile_id", "availability_zones")
    op.drop_table("availability_zones")
    op.drop_table("availability_zone_profiles")
    op.drop_index("ix_flavors_flavor_profile_id", "flavors")
    op.drop_table("flavors")
    op.drop_table("flavor_profiles")
    # the operator's quota defaults go with the tables that used them
    op.execute(sa.text("DELETE FROM deployment_settings WHERE key = 'quota_defaults'"))

"""Appliance versions: what each appliance's agent reported when it was last placed

Adds `appliances.agent_version`, `haproxy_version`, `agent_address` (Octavia's
lb_network_ip) and `agent_cert_not_after` (Octavia's cert_expiration), all nullable:
existing appliances show null until the reconciler places them again (within 30 s of the
server's start, or at their next change).

Revision ID: 0014
Revises: 0009
Create Date: 2026-11-26 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("agent_version", sa.String(length=64)),
    ("haproxy_version", sa.String(length=64)),
    ("agent_address", sa.String(length=255)),
    ("agent_cert_not_after", sa.DateTime()),
)


def upgrade() -> None:
    # Nullable columns without a default: SQLite adds them in place (see 0002).
    with op.batch_alter_table("appliances", schema=None) as batch_op:
        for name, kind in COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    # recreate="never": SQLite drops a plain column in place (see 0002).
    with op.batch_alter_table("appliances", schema=None, recreate="never") as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)

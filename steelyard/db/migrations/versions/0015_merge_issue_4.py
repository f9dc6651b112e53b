"""join the branches of issue 4 built side by side: logs (0010), webhooks (0011), metering
(0012), hosts and repairs (0013), appliance versions (0014)

Revision ID: 0015
Revises: 0010, 0011, 0012, 0013, 0014
Create Date: 2026-11-26 05:00:00.000000
"""

from collections.abc import Sequence

revision: str = "0015"
down_revision: tuple[str, ...] = ("0010", "0011", "0012", "0013", "0014")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: a single head again."""


def downgrade() -> None:
    """Nothing to change: the branches are downgraded one by one from here."""

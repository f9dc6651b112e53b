"""join the branches built side by side: flavors and quotas (0005), L7 (0006), TLS (0007)

Revision ID: 0008
Revises: 0005, 0006, 0007
Create Date: 2026-11-26 02:30:00.000000
"""

from collections.abc import Sequence

revision: str = "0008"
down_revision: tuple[str, ...] = ("0005", "0006", "0007")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: a single head again."""


def downgrade() -> None:
    """Nothing to change: the branches are downgraded one by one from here."""

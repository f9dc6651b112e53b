"""TLS (issue 6): the secret store, and the TLS attributes of listeners and pools

Adds the `secrets` table (encrypted PEM and what the certificate says), Octavia's TLS
attributes on `listeners` (certificate references, client authentication, versions, ciphers,
ALPN, HSTS) and on `pools` (tls_enabled, references, versions, ciphers, ALPN). Existing rows
keep working unchanged: no certificates, client authentication NONE, TLS off.

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-26 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COMMON_TLS = ("tls_ciphers", "tls_versions", "alpn_protocols")
_LISTENER_COLUMNS = (
    "default_tls_container_ref",
    "sni_container_refs",
    "client_authentication",
    "client_ca_tls_container_ref",
    "client_crl_container_ref",
    *_COMMON_TLS,
    "hsts_max_age",
    "hsts_include_subdomains",
    "hsts_preload",
)
_POOL_COLUMNS = (
    "tls_enabled",
    "tls_container_ref",
    "ca_tls_container_ref",
    "crl_container_ref",
    *_COMMON_TLS,
)


def _ref(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=255), nullable=True)


def _common() -> list[sa.Column[object]]:
    return [
        sa.Column("tls_ciphers", sa.String(length=2048), nullable=True),
        sa.Column("tls_versions", sa.JSON(), nullable=True),
        sa.Column("alpn_protocols", sa.JSON(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("issuer", sa.Text(), nullable=True),
        sa.Column("subject_alt_names", sa.JSON(), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=True),
        sa.Column("not_after", sa.DateTime(), nullable=True),
        sa.Column("fingerprint_sha256", sa.String(length=64), nullable=True),
        sa.Column("certificates", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("secrets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_secrets_project_id"), ["project_id"], unique=False)

    # Nullable columns or literal server defaults only: SQLite adds them in place (see 0002).
    with op.batch_alter_table("listeners", schema=None) as batch_op:
        batch_op.add_column(_ref("default_tls_container_ref"))
        batch_op.add_column(
            sa.Column("sni_container_refs", sa.JSON(), server_default="[]", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "client_authentication", sa.String(length=16), server_default="NONE", nullable=False
            )
        )
        batch_op.add_column(_ref("client_ca_tls_container_ref"))
        batch_op.add_column(_ref("client_crl_container_ref"))
        for column in _common():
            batch_op.add_column(column)
        batch_op.add_column(sa.Column("hsts_max_age", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("hsts_include_subdomains", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("hsts_preload", sa.Boolean(), server_default="0", nullable=False)
        )

    with op.batch_alter_table("pools", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tls_enabled", sa.Boolean(), server_default="0", nullable=False)
        )
        for name in ("tls_container_ref", "ca_tls_container_ref", "crl_container_ref"):
            batch_op.add_column(_ref(name))
        for column in _common():
            batch_op.add_column(column)


def downgrade() -> None:
    # recreate="never": SQLite drops plain columns in place; a rebuild would fail on the
    # foreign keys (see 0002).
    with op.batch_alter_table("pools", schema=None, recreate="never") as batch_op:
        for name in reversed(_POOL_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table("listeners", schema=None, recreate="never") as batch_op:
        for name in reversed(_LISTENER_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table("secrets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_secrets_project_id"))
    op.drop_table("secrets")

"""Run Alembic migrations programmatically (the server upgrades its database at start)."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    # "heads": features built side by side add revisions on branches of the same parent until a
    # merge revision joins them; every branch is applied either way.
    command.upgrade(alembic_config(engine), "heads")

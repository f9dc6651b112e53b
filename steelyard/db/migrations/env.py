"""Alembic environment: the engine comes from `steelyard.db.migrate`, never from a URL here."""

from alembic import context
from sqlalchemy import Engine

from steelyard.db.models import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through steelyard.db.migrate")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite cannot ALTER constraints; batch mode rebuilds tables
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()

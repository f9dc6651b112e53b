"""Engine and session factory. SQLite runs in WAL mode with a busy timeout so the API and the
reconciler threads of one process (and several processes on one host) can share the file."""

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

READ_ONLY = "steelyard_read_only"


def sqlite_url(state_dir: Path) -> str:
    return f"sqlite:///{state_dir / 'steelyard.db'}"


def make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy issue BEGIN itself so that BEGIN IMMEDIATE is possible for writes.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        # Writers take the lock at BEGIN: no deadlock-by-upgrade between two readers that
        # both decide to write, which is what SQLITE_BUSY under WAL usually is. Read-only
        # sessions (make_read_sessionmaker) begin deferred: under WAL they never wait.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that may write (on SQLite each transaction takes the write lock at BEGIN)."""
    return sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that only read: they never wait for a writer. Writing through one is a bug
    (on SQLite it can fail with "database is locked" under concurrency)."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

"""Flow rows as the collector stores them (db/logs.py add_flow_rows): values in the agent's
order, times as SQLAlchemy's DateTime column keeps them, so the ORM reads back what was sent."""

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from steelyard.agent.log_records import FLOW_COLUMNS, LogBatch, LogRow, to_micros
from steelyard.db import models as m
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.logs import FLOW_ROW_COLUMNS, Owner, stored_time
from steelyard.db.migrate import upgrade
from steelyard.telemetry.logs_collector import LogCollector, offload_row
from steelyard.telemetry.logs_offload import flow_message

LB = "0b000000-0000-4000-8000-000000000000"
FLOW = (
    "a0000000-0000-4000-8000-000000000001", "198.51.100.7", 40000,
    "b0000000-0000-4000-8000-000000000001", None, 503, 10, 20, 0, None, 1, None, 3, "SC--",
    "GET", "/a b", "HTTP/1.1",
)  # fmt: skip


class OneBatch:
    def __init__(self, batch: LogBatch) -> None:
        self.batch = batch

    def logs(self, after: int = 0, limit: int = 1000) -> LogBatch:
        return self.batch if after == 0 else LogBatch(self.batch.epoch, after)


def test_the_collector_columns_follow_the_agents_values() -> None:
    assert FLOW_ROW_COLUMNS[4:] == FLOW_COLUMNS


def test_stored_time_is_sqlalchemys_datetime_text() -> None:
    moment = datetime(2026, 11, 26, 4, 5, 6, 7000, tzinfo=UTC)
    assert stored_time(to_micros(moment)) == "2026-11-26 04:05:06.007000"
    assert stored_time(0) == "1970-01-01 00:00:00.000000"


def test_a_stored_flow_reads_back_through_the_orm(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    accepted = datetime(2026, 11, 26, 4, 5, 6, 742000, tzinfo=UTC)
    row: LogRow = (1, "app-1", "flow", to_micros(accepted), "info", "", FLOW)
    collector = LogCollector(
        sessions, OneBatch(LogBatch("e", 1, [row])), lambda: datetime(2026, 1, 1)
    )
    collector._owners["app-1"] = Owner(LB, "p1")  # no appliance table rows needed
    assert collector.poll_once() == 1
    with sessions() as session:
        stored = session.scalars(select(m.FlowLog)).one()
        assert stored.created_at == accepted.replace(tzinfo=None)
        assert (stored.loadbalancer_id, stored.project_id, stored.appliance) == (LB, "p1", "app-1")
        assert tuple(getattr(stored, name) for name in FLOW_COLUMNS) == FLOW
        # Filters compare stored text with SQLAlchemy's bound times: the same format.
        later = session.scalars(
            select(m.FlowLog).where(m.FlowLog.created_at >= accepted.replace(tzinfo=None))
        ).all()
        assert len(later) == 1


def test_the_offload_row_names_every_column() -> None:
    flow = (stored_time(0), LB, "p1", "app-1", *FLOW)
    row = offload_row(flow)
    assert row["created_at"] == datetime(1970, 1, 1) and row["status_code"] == 503
    assert b'"GET /a b HTTP/1.1" 503' in flow_message(row)

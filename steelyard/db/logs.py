"""Flow and admin log rows: written in batches by the log collector, read a page at a time by
the API (Octavia's pagination and sorting, db/listing.py), pruned by age and row count."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.access import get_visible
from steelyard.db.listing import list_page
from steelyard.model.fields import Out
from steelyard.model.listing import ListQuery
from steelyard.model.logs import AdminLogOut, FlowLogOut, OperatorFlowLogOut

FLOW_ATTRIBUTES = (
    "created_at",
    "listener_id",
    "status_code",
    "client_address",
    "http_method",
    "pool_id",
    "member_id",
)
ADMIN_ATTRIBUTES = ("created_at", "source", "severity", "appliance", "loadbalancer_id")
LogTable = type[m.FlowLog] | type[m.AdminLog]
# A flow row as add_flow_rows takes it (the agent's flow values follow the first four, in the
# agent's order: agent/log_records.py FLOW_COLUMNS).
FLOW_ROW_COLUMNS = (
    "created_at", "loadbalancer_id", "project_id", "appliance",
    "listener_id", "client_address", "client_port", "pool_id", "member_id", "status_code",
    "bytes_in", "bytes_out", "time_request_ms", "time_queue_ms", "time_connect_ms",
    "time_response_ms", "time_total_ms", "termination_state", "http_method", "request_uri",
    "http_version",
)  # fmt: skip
_EPOCH = datetime(1970, 1, 1)
_INSERT_FLOWS = (
    f"INSERT INTO {m.FlowLog.__tablename__} ({', '.join(FLOW_ROW_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(FLOW_ROW_COLUMNS))})"
)
FlowRow = tuple[Any, ...]  # FLOW_ROW_COLUMNS order; created_at from stored_time()


@dataclass(frozen=True)
class Owner:
    loadbalancer_id: str
    project_id: str


@dataclass(frozen=True)
class FlowFilters:
    """Naive UTC bounds; `status` an inclusive range (404-404, or 500-599 for 5xx)."""

    since: datetime | None = None
    until: datetime | None = None
    status: tuple[int, int] | None = None
    client_address: str | None = None
    listener_id: str | None = None


@dataclass(frozen=True)
class AdminFilters:
    since: datetime | None = None
    until: datetime | None = None
    source: str | None = None
    appliance: str | None = None
    loadbalancer_id: str | None = None


def owners(session: Session, appliances: Iterable[str]) -> dict[str, Owner]:
    """The load balancer and project of each named appliance that serves one (spares and
    unknown names are left out)."""
    names = list(set(appliances))
    if not names:
        return {}
    rows = session.execute(
        select(m.Appliance.name, m.LoadBalancer.id, m.LoadBalancer.project_id)
        .join(m.LoadBalancer, m.LoadBalancer.id == m.Appliance.loadbalancer_id)
        .where(m.Appliance.name.in_(names))
    )
    return {name: Owner(lb_id, project) for name, lb_id, project in rows}


def add_rows(session: Session, table: LogTable, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert column -> value rows in one statement per batch (the caller commits)."""
    if rows:
        session.execute(insert(table), list(rows))


def add_flow_rows(session: Session, rows: Sequence[FlowRow]) -> None:
    """Insert flow rows with the driver's executemany (the caller commits). One row per request:
    SQLAlchemy's per-value processing of a Core insert cost twice SQLite's own work
    (bench.throughput), so the values come ready, times as the DateTime column stores them."""
    if rows:
        session.connection().exec_driver_sql(_INSERT_FLOWS, list(rows))


def stored_time(micros: int) -> str:
    """A time (microseconds since the epoch, UTC) as SQLAlchemy's SQLite DateTime stores it."""
    seconds, fraction = divmod(micros, 1_000_000)
    return f"{_stored_second(seconds)}.{fraction:06d}"


@lru_cache(maxsize=256)  # the requests of one second share it
def _stored_second(seconds: int) -> str:
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


def loadbalancer_flow_logs(
    session: Session,
    scope: str | None,
    lb_id: str,
    query: ListQuery,
    filters: FlowFilters,
    operator: bool = False,
) -> list[FlowLogOut]:
    """A page of the flow logs of a load balancer `scope` sees (404 otherwise); operators see
    the appliance of each."""
    lb = get_visible(session, m.LoadBalancer, lb_id, scope)
    clauses = [m.FlowLog.loadbalancer_id == lb.id, *_flow_clauses(filters)]
    rows = list_page(session, m.FlowLog, query, FLOW_ATTRIBUTES, clauses)
    model = OperatorFlowLogOut if operator else FlowLogOut
    return [model.model_validate(_fields(row, model)) for row in rows]


def admin_logs(session: Session, query: ListQuery, filters: AdminFilters) -> list[AdminLogOut]:
    clauses: list[ColumnElement[bool]] = [*_time_clauses(m.AdminLog, filters.since, filters.until)]
    if filters.source is not None:
        clauses.append(m.AdminLog.source == filters.source)
    if filters.appliance is not None:
        clauses.append(m.AdminLog.appliance == filters.appliance)
    if filters.loadbalancer_id is not None:
        clauses.append(m.AdminLog.loadbalancer_id == filters.loadbalancer_id)
    rows = list_page(session, m.AdminLog, query, ADMIN_ATTRIBUTES, clauses)
    return [AdminLogOut.model_validate(_fields(row, AdminLogOut)) for row in rows]


def table_state(session: Session, table: LogTable) -> tuple[int, int | None]:
    """(row count, newest key) of a log table."""
    count, newest = session.execute(select(func.count(), func.max(table.id))).one()
    return int(count), newest


def prune(session: Session, table: LogTable, older_than: datetime, ids_up_to: int | None) -> int:
    """Delete the rows created before `older_than` and those keyed up to `ids_up_to`."""
    condition = table.created_at < older_than
    if ids_up_to is not None:
        condition = condition | (table.id <= ids_up_to)
    done = session.execute(delete(table).where(condition))
    return int(done.rowcount)  # type: ignore[attr-defined]  # a CursorResult for a DELETE


def _flow_clauses(filters: FlowFilters) -> list[ColumnElement[bool]]:
    clauses = _time_clauses(m.FlowLog, filters.since, filters.until)
    if filters.status is not None:
        low, high = filters.status
        clauses.append(m.FlowLog.status_code.between(low, high))
    if filters.client_address is not None:
        clauses.append(m.FlowLog.client_address == filters.client_address)
    if filters.listener_id is not None:
        clauses.append(m.FlowLog.listener_id == filters.listener_id)
    return clauses


def _time_clauses(
    table: LogTable, since: datetime | None, until: datetime | None
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if since is not None:
        clauses.append(table.created_at >= since)
    if until is not None:
        clauses.append(table.created_at <= until)
    return clauses


def _fields(row: m.FlowLog | m.AdminLog, model: type[Out]) -> dict[str, Any]:
    values = {name: getattr(row, name) for name in model.model_fields}
    values["id"] = str(row.id)
    return values

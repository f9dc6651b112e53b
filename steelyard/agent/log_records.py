"""What `GET /v1/logs` answers (contract.py): the flow and admin log records of every appliance
of the agent, in the order they arrived, each with a sequence number that serves as cursor.

Every request through an appliance is a record, so records travel as compact rows (`LogRow`:
plain tuples, JSON arrays on the wire), not as one model object each: building, validating and
serializing a model per request cost more CPU than HAProxy spent serving it (bench.throughput).
`LogRecord`/`FlowRecord` are the readable view of a row (`LogBatch.records`).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, Literal, TypeGuard

from pydantic import BaseModel

# flow: HAProxy's access log line of a request or connection; the others are admin logs: the
# agent's own log records, HAProxy's process messages (server up/down, ...), keepalived's
# output and VRRP state changes.
LogSource = Literal["flow", "agent", "haproxy", "keepalived"]
SOURCES: tuple[LogSource, ...] = ("flow", "agent", "haproxy", "keepalived")
Severity = Literal["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]
# Syslog severities by number (RFC 5424 section 6.2.1).
SEVERITIES: tuple[Severity, ...] = (
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
)  # fmt: skip
MAX_LOG_BATCH = 20_000  # a reader drains a backlog of one buffer in one call
MAX_MESSAGE = 4096  # characters of an admin message kept
MAX_FIELD = 4096  # characters of a flow row's text field (the request URI is cut at 2,048)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A flow record's values after its time, in this order (render/haproxy_log.py FIELDS, parsed).
FLOW_COLUMNS: tuple[str, ...] = (
    "listener_id", "client_address", "client_port", "pool_id", "member_id", "status_code",
    "bytes_in", "bytes_out", "time_request_ms", "time_queue_ms", "time_connect_ms",
    "time_response_ms", "time_total_ms", "termination_state", "http_method", "request_uri",
    "http_version",
)  # fmt: skip
_FLOW_TYPES: tuple[type, ...] = (
    str, str, int, str, str, int, int, int, int, int, int, int, int, str, str, str, str,
)  # fmt: skip
_REQUIRED = frozenset({"listener_id", "client_address"})  # never None
# Type patterns of flow values already checked (LogBatch.from_json), with the getter of their
# strings; bounded (there are at most 2^15 patterns, a handful in practice).
_FLOW_SIGNATURES: dict[tuple[type, ...], Callable[[list[Any]], tuple[str, ...]]] = {}
_MAX_SIGNATURES = 256
FlowValues = tuple[Any, ...]  # FLOW_COLUMNS order: str | int | None each
# (seq, appliance (None: the agent), source, time in microseconds since the epoch (UTC),
#  severity, message (admin records; "" for flows), flow values (flow records) or None)
LogRow = tuple[int, str | None, LogSource, int, Severity, str, FlowValues | None]


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware time."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


# What a datetime holds: a row outside is refused (it could not be stored).
_MIN_MICROS = to_micros(datetime.min.replace(tzinfo=UTC))
_MAX_MICROS = to_micros(datetime.max.replace(tzinfo=UTC))


class FlowRecord(BaseModel):
    """One access-log line, parsed (render/haproxy_log.py FIELDS); None where HAProxy wrote
    `-` or -1 (no status on TCP, no response before an abort, ...)."""

    listener_id: str
    client_address: str
    client_port: int | None
    accepted_at: datetime  # aware, UTC
    pool_id: str | None  # None: no pool took the request
    member_id: str | None  # None: no member (HAProxy's <NOSRV>)
    status_code: int | None
    bytes_in: int | None
    bytes_out: int | None
    time_request_ms: int | None
    time_queue_ms: int | None
    time_connect_ms: int | None
    time_response_ms: int | None
    time_total_ms: int | None
    termination_state: str | None
    http_method: str | None
    request_uri: str | None
    http_version: str | None

    def values(self) -> FlowValues:
        return tuple(getattr(self, name) for name in FLOW_COLUMNS)


class LogRecord(BaseModel):
    seq: int
    appliance: str | None  # None: the agent itself
    source: LogSource
    time: datetime  # aware, UTC
    severity: Severity
    message: str = ""  # admin records; empty for flow records
    flow: FlowRecord | None = None


def flow_record(micros: int, values: FlowValues) -> FlowRecord:
    return FlowRecord.model_construct(
        accepted_at=from_micros(micros), **dict(zip(FLOW_COLUMNS, values, strict=True))
    )


def log_record(row: LogRow) -> LogRecord:
    seq, appliance, source, micros, severity, message, flow = row
    return LogRecord.model_construct(
        seq=seq,
        appliance=appliance,
        source=source,
        time=from_micros(micros),
        severity=severity,
        message=message,
        flow=None if flow is None else flow_record(micros, flow),
    )


class LogBatchError(ValueError):
    """An answer of `GET /v1/logs` that is not a batch."""


@dataclass(frozen=True)
class LogBatch:
    # Changes when the agent restarts (its sequence numbers start over): a reader holding a
    # cursor of another epoch reads from the start.
    epoch: str
    cursor: int  # the `after` of the next call
    rows: list[LogRow] = field(default_factory=list)
    # Records evicted from the bounded buffers before they were read (since the agent started).
    dropped: int = 0

    @property
    def records(self) -> list[LogRecord]:
        """The rows as records (for people and tests; the collector reads `rows`)."""
        return [log_record(row) for row in self.rows]

    def to_json(self) -> bytes:
        body = {"epoch": self.epoch, "cursor": self.cursor, "dropped": self.dropped}
        body["rows"] = self.rows  # tuples become arrays
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, body: object) -> "LogBatch":
        """The batch of a decoded answer, every value checked for its type and bounds."""
        if not isinstance(body, dict):
            raise LogBatchError("not an object")
        epoch, cursor, dropped, rows = (body.get(k) for k in ("epoch", "cursor", "dropped", "rows"))
        if not isinstance(epoch, str) or len(epoch) > 64:
            raise LogBatchError("bad epoch")
        if not _count(cursor) or not _count(dropped) or not isinstance(rows, list):
            raise LogBatchError("bad cursor, dropped or rows")
        return cls(epoch, cursor, [_row(row) for row in rows], dropped)


def _count(value: object) -> TypeGuard[int]:
    return type(value) is int and value >= 0


def _row(row: object) -> LogRow:
    if not isinstance(row, list) or len(row) != 7:
        raise LogBatchError(f"bad row {row!r:.200}")
    seq, appliance, source, micros, severity, message, flow = row
    if (
        not _count(seq)
        or not (appliance is None or (isinstance(appliance, str) and len(appliance) <= 64))
        or source not in SOURCES
        or type(micros) is not int
        or not _MIN_MICROS <= micros <= _MAX_MICROS
        or (flow is not None and micros < 0)  # flows: accepted since the epoch
        or severity not in SEVERITIES
        or not isinstance(message, str)
        or len(message) > MAX_MESSAGE
        or (flow is None) != (source != "flow")
    ):
        raise LogBatchError(f"bad row {row!r:.200}")
    return (
        seq,
        appliance,
        source,
        micros,
        severity,
        message,
        None if flow is None else _flow(flow),
    )


def _flow(values: object) -> FlowValues:
    """The values, if each has its column's type (or is None where allowed) and a bounded
    length. Rows come in few type patterns (which fields are None): a pattern checked once
    is known by its signature, and then only the lengths of its strings are looked at."""
    if not isinstance(values, list) or len(values) != len(FLOW_COLUMNS):
        raise LogBatchError(f"bad flow values {values!r:.200}")
    signature = tuple(map(type, values))
    strings = _FLOW_SIGNATURES.get(signature)
    if strings is None:
        strings = _check_flow_types(values)
        if len(_FLOW_SIGNATURES) < _MAX_SIGNATURES:
            _FLOW_SIGNATURES[signature] = strings
    if max(map(len, strings(values))) > MAX_FIELD:
        raise LogBatchError("a flow value longer than any the agent keeps")
    return tuple(values)


def _check_flow_types(values: list[Any]) -> Callable[[list[Any]], tuple[str, ...]]:
    """Raises unless every value has its column's type; returns the getter of the strings."""
    for name, kind, value in zip(FLOW_COLUMNS, _FLOW_TYPES, values, strict=True):
        if value is None:
            if name in _REQUIRED:
                raise LogBatchError(f"flow without {name}")
        elif type(value) is not kind:
            raise LogBatchError(f"bad flow {name} {value!r:.200}")
    # At least two (listener_id and client_address): the getter answers a tuple.
    return itemgetter(*(index for index, value in enumerate(values) if type(value) is str))

"""What `GET /v1/logs` answers (contract.py): the flow and admin log records of every appliance
of the agent, in the order they arrived, each with a sequence number that serves as cursor."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

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
MAX_LOG_BATCH = 5000
MAX_MESSAGE = 4096  # characters of an admin message kept


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


class LogRecord(BaseModel):
    seq: int
    appliance: str | None  # None: the agent itself
    source: LogSource
    time: datetime  # aware, UTC
    severity: Severity
    message: str = ""  # admin records; empty for flow records
    flow: FlowRecord | None = None


class LogBatch(BaseModel):
    # Changes when the agent restarts (its sequence numbers start over): a reader holding a
    # cursor of another epoch reads from the start.
    epoch: str
    records: list[LogRecord] = Field(default_factory=list)
    cursor: int  # the `after` of the next call
    # Records evicted from the bounded buffers before they were read (since the agent started).
    dropped: int = 0

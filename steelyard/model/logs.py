"""Flow logs (HAProxy's access log of a load balancer) and admin logs, as the API shows them.

Times are UTC without an offset, as every time of this API, with milliseconds: a request's
place among others of the same second matters when reading a log.
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import PlainSerializer

from steelyard.model.fields import Out

LogTime = Annotated[
    datetime,
    PlainSerializer(lambda value: value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3], return_type=str),
]
AdminSource = Literal["agent", "haproxy", "keepalived"]
ADMIN_SOURCES: tuple[AdminSource, ...] = ("agent", "haproxy", "keepalived")


class FlowLogOut(Out):
    """One request of an HTTP listener, or one connection of a TCP listener (no status, method,
    URI or version). Timers are in milliseconds, None where HAProxy never reached that step."""

    id: str
    created_at: LogTime  # when HAProxy accepted the connection
    loadbalancer_id: str
    listener_id: str
    project_id: str
    client_address: str
    client_port: int | None
    status_code: int | None
    http_method: str | None
    request_uri: str | None
    http_version: str | None
    bytes_in: int | None  # from the client
    bytes_out: int | None  # to the client
    pool_id: str | None
    member_id: str | None
    time_request_ms: int | None
    time_queue_ms: int | None
    time_connect_ms: int | None
    time_response_ms: int | None
    time_total_ms: int | None
    termination_state: str | None  # HAProxy's, e.g. "----" (normal), "CD--" (client aborted)


class OperatorFlowLogOut(FlowLogOut):
    """As operators see it: with the appliance that served it."""

    appliance: str


class AdminLogOut(Out):
    id: str
    created_at: LogTime
    source: AdminSource
    severity: str  # syslog's names: emerg, alert, crit, err, warning, notice, info, debug
    appliance: str | None  # None: the agent itself
    loadbalancer_id: str | None
    project_id: str | None
    message: str

"""The access-log format of every listener (a flow log line), shared with the agent's parser.

One line per request (HTTP) or connection (TCP): the tag `FORMAT_TAG`, by which the agent tells
flow logs from HAProxy's own messages (server up/down, ...) on the same socket, then the fields
in `FIELDS` order, joined by `SEPARATOR` (HAProxy takes the format as one word, where a space
would need an escape; no field but the request line can hold a `|`). HTTP-only fields are `-`
on TCP listeners. The
request line comes last, as HAProxy writes it (`"`, `#` and control characters as `#XX`; cut
at `tune.http.logurilen`, 1024 bytes): the parser takes whatever follows the other fields.
Every token is a constant, so the line needs no quoting.

The frontend name is the listener id (the renderer's naming contract), the backend the pool
id, the server the member id; HAProxy writes `<NOSRV>` when no member was chosen.
"""

from typing import Literal

FORMAT_TAG = "sy1"
SEPARATOR = "|"
# Bytes per datagram HAProxy may send (its default, 1024, would cut most request lines short).
LOG_LINE_LENGTH = 4096

# (field name, HTTP listener token, TCP listener token), in line order.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("listener_id", "%f", "%f"),
    ("client_address", "%ci", "%ci"),
    ("client_port", "%cp", "%cp"),
    ("accepted_at", "%Ts.%ms", "%Ts.%ms"),  # when the connection was accepted, UNIX time
    ("backend", "%b", "%b"),
    ("server", "%s", "%s"),
    ("status_code", "%ST", "-"),
    ("bytes_out", "%B", "%B"),  # to the client
    ("bytes_in", "%U", "%U"),  # from the client
    ("time_request_ms", "%TR", "-"),  # receiving the request
    ("time_queue_ms", "%Tw", "%Tw"),
    ("time_connect_ms", "%Tc", "%Tc"),
    ("time_response_ms", "%Tr", "-"),  # the member's response headers
    ("time_total_ms", "%Ta", "%Tt"),
    ("termination_state", "%tsc", "%ts"),
    ("request", "%r", "-"),
)
FIELD_NAMES = tuple(name for name, _, _ in FIELDS)


def log_format_line(mode: Literal["http", "tcp"]) -> str:
    """The frontend's `log-format` line."""
    tokens = [http if mode == "http" else tcp for _, http, tcp in FIELDS]
    return "log-format " + SEPARATOR.join((FORMAT_TAG, *tokens))

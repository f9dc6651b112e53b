"""Collect each appliance's logs into the agent's LogBuffer.

- HAProxy: one UNIX datagram socket per appliance (`ApplianceLayout.log_socket`, the path a
  rendered config's `log` line names). A path in the file system, not an abstract name, so
  HAProxy reaches it from inside the appliance's network namespace.
- keepalived: it logs to the host's syslog, which the agent does not own; what the agent
  records is its start-up output (`keepalived.out`) and every VRRP state change (`vrrp.state`).
- The agent's own log records (`BufferHandler`), under the appliance they name.

One thread reads every socket and watches the files; sockets are bound by the caller (so that
nothing HAProxy sends is lost) and handed to the thread, which alone reads and closes them.
"""

import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from steelyard.agent.layout import ApplianceLayout, valid_name
from steelyard.agent.log_buffer import LogBuffer
from steelyard.agent.log_parse import clean, parse_datagram, parse_flow_datagram, parse_flow_values
from steelyard.agent.log_records import Severity

TICK_S = 0.5  # how often the keepalived files are looked at
AGENT_LOGGER = "steelyard.agent"
_DATAGRAM = 65_535
_RECEIVE_BUFFER = 4 * 1024 * 1024  # bursts wait here while the thread is busy
_OUTPUT_CHUNK = 64 * 1024


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Watched:
    layout: ApplianceLayout
    vrrp_state: str | None
    output_offset: int


class LogReceiver:
    def __init__(self, buffer: LogBuffer) -> None:
        self.buffer = buffer
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._opened: dict[str, socket.socket] = {}  # bound, not yet registered
        self._closing: set[str] = set()
        self._sockets: dict[str, socket.socket] = {}  # the thread's
        self._watched: dict[str, _Watched] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agent-logs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def open(self, name: str, layout: ApplianceLayout) -> None:
        """Bind the appliance's log socket (again when its file is gone, or a stale one from an
        earlier agent is there) and watch its keepalived files; idempotent."""
        path = layout.log_socket
        with self._lock:
            bound = name in self._opened or (name in self._sockets and name not in self._closing)
            if bound and path.exists():
                return
            path.unlink(missing_ok=True)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
            sock.bind(str(path))
            os.chmod(path, 0o600)
            sock.setblocking(False)
            previous = self._opened.pop(name, None)
            if previous is not None:
                previous.close()
            self._opened[name] = sock
            self._watched[name] = _Watched(
                layout, _read_state(layout.vrrp_state), _size(layout.keepalived_output)
            )

    def close(self, name: str) -> None:
        """Stop reading the appliance's socket (the thread closes it) and watching its files."""
        with self._lock:
            self._closing.add(name)
            self._watched.pop(name, None)
            pending = self._opened.pop(name, None)
        if pending is not None:
            pending.close()

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            self._take_changes()
            for key, _ in self._selector.select(timeout=TICK_S / 5):
                self._drain(str(key.data), key.fileobj)  # type: ignore[arg-type]
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + TICK_S
                self._watch_keepalived()
        with self._lock:
            pending, self._opened = self._opened, {}
        for sock in (*self._sockets.values(), *pending.values()):
            sock.close()

    def _take_changes(self) -> None:
        """Closes first, then opens: an appliance deleted and made again gets its new socket."""
        with self._lock:
            opened, self._opened = self._opened, {}
            closing, self._closing = self._closing, set()
        for name in closing | opened.keys():
            sock = self._sockets.pop(name, None)
            if sock is not None:
                self._drain(name, sock)  # what HAProxy said last
                self._selector.unregister(sock)
                sock.close()
        for name, sock in opened.items():
            self._sockets[name] = sock
            self._selector.register(sock, selectors.EVENT_READ, name)

    def _drain(self, name: str, sock: socket.socket) -> None:
        for _ in range(1000):  # then the other sockets get their turn
            try:
                data = sock.recv(_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.record_datagram(name, data)

    def record_datagram(self, name: str, data: bytes) -> None:
        flow = parse_flow_datagram(data)
        if flow is not None:
            severity, micros, values = flow
            self.buffer.add_row(name, "flow", micros, severity, flow=values)
            return
        message = parse_datagram(data, utcnow())
        parsed = parse_flow_values(message.message)  # a flow line under another header form
        if parsed is not None:
            micros, values = parsed
            self.buffer.add_row(name, "flow", micros, message.severity, flow=values)
        else:
            self.buffer.add(name, "haproxy", message.time, message.severity, message.message)

    def _watch_keepalived(self) -> None:
        with self._lock:
            watched = list(self._watched.items())
        for name, entry in watched:
            state = _read_state(entry.layout.vrrp_state)
            if state != entry.vrrp_state and state is not None:
                severity: Severity = "notice" if state in ("MASTER", "BACKUP") else "warning"
                text = f"VRRP state {entry.vrrp_state or 'unknown'} -> {state}"
                self.buffer.add(name, "keepalived", utcnow(), severity, text)
            entry.vrrp_state = state
            entry.output_offset = self._read_output(name, entry)

    def _read_output(self, name: str, entry: _Watched) -> int:
        """New lines of keepalived.out (rewritten at each start: a shorter file starts over)."""
        path = entry.layout.keepalived_output
        size = _size(path)
        offset = 0 if size < entry.output_offset else entry.output_offset
        if size == offset:
            return offset
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read(_OUTPUT_CHUNK)
        except OSError:
            return offset
        complete = chunk[: chunk.rfind(b"\n") + 1] if len(chunk) < _OUTPUT_CHUNK else chunk
        for line in complete.decode("utf-8", errors="replace").splitlines():
            if line.strip():
                self.buffer.add(name, "keepalived", utcnow(), "info", clean(line))
        return offset + len(complete)


class BufferHandler(logging.Handler):
    """The agent's own log records, as admin records of the appliance they name (the first
    argument of the agent's messages, "%s: ..."), else of the agent."""

    def __init__(self, buffer: LogBuffer, known: Callable[[str], bool]) -> None:
        super().__init__(logging.INFO)
        self.buffer = buffer
        self.known = known

    def emit(self, record: logging.LogRecord) -> None:
        try:
            args = record.args
            first = args[0] if isinstance(args, tuple) and args else None
            name = first if isinstance(first, str) and valid_name(first) else None
            self.buffer.add(
                name if name is not None and self.known(name) else None,
                "agent",
                datetime.fromtimestamp(record.created, UTC),
                _severity(record.levelno),
                clean(record.getMessage()),
            )
        except Exception:  # a log record must never break what logged it
            self.handleError(record)


def _severity(level: int) -> Severity:
    if level >= logging.CRITICAL:
        return "crit"
    if level >= logging.ERROR:
        return "err"
    if level >= logging.WARNING:
        return "warning"
    return "info" if level >= logging.INFO else "debug"


def _read_state(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    return text[:16] or None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@dataclass(frozen=True)
class AgentLogs:
    buffer: LogBuffer
    receiver: LogReceiver
    handler: logging.Handler

    def close(self) -> None:
        """Stop collecting (an agent app that ends before its process does: tests)."""
        logging.getLogger(AGENT_LOGGER).removeHandler(self.handler)
        self.receiver.stop()


def start_agent_logs(
    appliances: Iterable[tuple[str, ApplianceLayout]], known: Callable[[str], bool]
) -> AgentLogs:
    """The agent's log collection, running: a socket for each of `appliances` (found at
    start-up), and the agent's own records (logger `steelyard.agent`) into the same buffer."""
    buffer = LogBuffer()
    receiver = LogReceiver(buffer)
    for name, layout in appliances:
        receiver.open(name, layout)
    receiver.start()
    logger = logging.getLogger(AGENT_LOGGER)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)  # admin logs are the agent's INFO records and above
    handler = BufferHandler(buffer, known)
    logger.addHandler(handler)
    return AgentLogs(buffer, receiver, handler)

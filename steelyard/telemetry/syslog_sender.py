"""Send syslog messages to one remote target (`udp://HOST:PORT` or `tcp://HOST:PORT`), never
blocking the caller: a bounded queue that drops its oldest message when full (counted), and a
thread that sends. TCP frames each message by octet counting (RFC 6587) and reconnects with
backoff while the target is down; what was queued meanwhile is sent once it is back."""

import contextlib
import ipaddress
import logging
import socket
import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from steelyard.telemetry.syslog_format import octet_counted

log = logging.getLogger(__name__)

DEFAULT_QUEUE = 10_000
_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Target:
    protocol: Literal["udp", "tcp"]
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.protocol}://{host}:{self.port}"


def parse_target(text: str) -> Target:
    """`udp://HOST:PORT` or `tcp://HOST:PORT` (an IPv6 address in brackets); ValueError else."""
    parts = urlsplit(text.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("udp", "tcp") or not parts.hostname or port is None or port == 0:
        raise ValueError(f"expected udp://HOST:PORT or tcp://HOST:PORT, got {text[:100]!r}")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"a log target is HOST:PORT only, got {text[:100]!r}")
    host = parts.hostname
    with contextlib.suppress(ValueError):
        host = str(ipaddress.ip_address(host))
    protocol: Literal["udp", "tcp"] = "udp" if parts.scheme == "udp" else "tcp"
    return Target(protocol, host, port)


class SyslogSender:
    def __init__(self, target: Target, capacity: int = DEFAULT_QUEUE) -> None:
        self.target = target
        self.capacity = capacity
        self.dropped = 0  # messages dropped because the queue was full
        self.sent = 0
        self._queue: deque[bytes] = deque()
        self._ready = threading.Condition()
        self._stopping = False
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name=f"syslog {target}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify()
        self._thread.join(timeout=10)
        self._close()

    def send(self, message: bytes) -> None:
        with self._ready:
            if len(self._queue) >= self.capacity:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(message)
            self._ready.notify()

    def _run(self) -> None:
        failures = 0
        while True:
            with self._ready:
                while not self._queue and not self._stopping:
                    self._ready.wait()
                if self._stopping:
                    return
                message = self._queue[0]
            try:
                self._deliver(message)
            except OSError as exc:
                self._close()
                if failures == 0:
                    log.warning("syslog target %s: %s; retrying", self.target, exc)
                delay = _BACKOFF_S[min(failures, len(_BACKOFF_S) - 1)]
                failures += 1
                with self._ready:
                    self._ready.wait_for(lambda: self._stopping, timeout=delay)
                continue
            if failures:
                log.info("syslog target %s: sending again", self.target)
            failures = 0
            with self._ready:
                # The queue may have dropped its oldest meanwhile: only remove what was sent.
                if self._queue and self._queue[0] is message:
                    self._queue.popleft()
                self.sent += 1

    def _deliver(self, message: bytes) -> None:
        if self._socket is None:
            self._socket = self._connect()
        if self.target.protocol == "udp":
            self._socket.send(message)
        else:
            self._socket.sendall(octet_counted(message))

    def _connect(self) -> socket.socket:
        kind = socket.SOCK_DGRAM if self.target.protocol == "udp" else socket.SOCK_STREAM
        family, _, _, _, address = socket.getaddrinfo(
            self.target.host, self.target.port, type=kind
        )[0]
        sock = socket.socket(family, kind)
        sock.settimeout(_TIMEOUT_S)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        return sock

    def _close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

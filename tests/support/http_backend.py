"""A tiny HTTP/1.1 backend for tests: answers its own name, so a test sees who served it.

Paths:
    /health  200 "ok" (503 "unhealthy" after `healthy = False`, or SIGUSR1 when run as a program)
    /echo    200, JSON of backend, method, path and request headers (for header-insertion tests)
    /delay/<ms>  200 "<name>" after <ms> milliseconds (at most 10 s): a request that stays in flight
    /status/<code>  that status (200 to 599), body "<name>\\n" (e.g. 404s for metering tests)
    other    200, body "<name>\\n"
Every response carries ``X-Backend: <name>``. Connections are kept alive (HTTP/1.1).

Run as a program (inside a namespace, say) it prints ``READY <port>`` once it listens:
    python -m tests.support.http_backend --name N [--host H] [--port P]
SIGTERM stops it; SIGUSR1 makes /health fail, SIGUSR2 heals it.
"""

import argparse
import contextlib
import json
import signal
import socket
import socketserver
import sys
import threading
import time
import weakref
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, backend_name: str) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.backend_name = backend_name
        self.healthy = True
        self.requests = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN: a reverse DNS query that can stall
        # for seconds on a machine without DNS. The name is never used here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self.connections += 1
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients (and proxies' health checks) drop connections; that is not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """End kept-alive connections, whose handler threads would otherwise wait for more."""
        with self._lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response has a Content-Length
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read responses, not access logs

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)  # read it so the next request on the connection parses
        self._answer(send_body=True)

    def _answer(self, send_body: bool) -> None:
        server = self.server
        with server._lock:
            server.requests += 1
        path = urlsplit(self.path).path
        status, content_type = 200, "text/plain"
        if path == "/health":
            status, body = (200, "ok\n") if server.healthy else (503, "unhealthy\n")
        elif path == "/echo":
            content_type = "application/json"
            body = json.dumps(
                {
                    "backend": server.backend_name,
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                }
            )
        elif path.startswith("/status/") and _status_code(path.removeprefix("/status/")):
            status, body = _status_code(path.removeprefix("/status/")), f"{server.backend_name}\n"
        else:
            if path.startswith("/delay/"):
                delay_ms = path.removeprefix("/delay/")
                time.sleep(min(int(delay_ms) if delay_ms.isdigit() else 0, 10_000) / 1000)
            body = f"{server.backend_name}\n"
        data = body.encode()
        self.send_response(status)
        self.send_header("X-Backend", server.backend_name)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if send_body:
            self.wfile.write(data)


def _status_code(text: str) -> int:
    """The status a /status/<code> path asks for; 0 when it is none we send."""
    return int(text) if text.isdigit() and 200 <= int(text) <= 599 else 0


def _stop(server: _Server, thread: threading.Thread) -> None:
    server.shutdown()
    server.close_connections()
    server.server_close()
    thread.join()


class HttpBackend:
    """A backend served by threads of this process; `port=0` picks a free port.

    Use as a context manager, or call `stop()`; it is also stopped when garbage-collected or
    at interpreter exit, so a failing test cannot leave it listening.
    """

    def __init__(self, name: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.name = name
        self.host = host
        self._server = _Server(host, port, name)
        self.port: int = self._server.server_address[1]
        thread = threading.Thread(
            # A short poll interval: stop() waits up to one interval for the loop to notice.
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"http-backend-{name}",
            daemon=True,
        )
        thread.start()
        self._finalizer = weakref.finalize(self, _stop, self._server, thread)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def healthy(self) -> bool:
        return self._server.healthy

    @healthy.setter
    def healthy(self, value: bool) -> None:
        self._server.healthy = value

    @property
    def requests(self) -> int:
        """Requests answered so far."""
        return self._server.requests

    @property
    def connections(self) -> int:
        """TCP connections accepted so far (fewer than requests when clients keep alive)."""
        return self._server.connections

    def stop(self) -> None:
        self._finalizer()

    def __enter__(self) -> "HttpBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="HTTP test backend")
    parser.add_argument("--name", required=True)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    # Blocked before any thread starts (threads inherit the mask) and taken with sigwait: no
    # handler races, no signal lands in a server thread.
    signals = {signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    with HttpBackend(args.name, args.host, args.port) as backend:
        print(f"READY {backend.port}", flush=True)
        while (signum := signal.sigwait(signals)) in (signal.SIGUSR1, signal.SIGUSR2):
            backend.healthy = signum == signal.SIGUSR2


if __name__ == "__main__":
    main()

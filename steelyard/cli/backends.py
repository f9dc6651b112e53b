"""Tiny HTTP backends for `steelyard demo` (and for tests): each answers with its own name."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _NamedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real backend
    server: "NamedBackend"

    def do_GET(self) -> None:
        self.server.count_request()
        body = f"{self.server.name}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", self.server.name)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:  # quiet: the demo prints its own
        return


class NamedBackend(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name: str, host: str, port: int = 0) -> None:
        self.name = name
        self.requests = 0
        self._count_lock = threading.Lock()
        super().__init__((host, port), _NamedHandler)
        self._thread = threading.Thread(
            target=self.serve_forever, name=f"backend-{name}", daemon=True
        )

    def count_request(self) -> None:
        with self._count_lock:
            self.requests += 1

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def handle_error(self, request: object, client_address: object) -> None:
        # Health checks and clients hang up mid-answer all the time; that is not an error here.
        return

    def start(self) -> "NamedBackend":
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() would wait forever on a server not serving
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()

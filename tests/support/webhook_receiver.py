"""A real HTTP server on 127.0.0.1 that receives webhook deliveries, for the tests: it answers
500 to the first `fail_first` requests (or to all while `always_fail`), 200 afterwards, and
keeps every request it got, with whether its signature verified."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from steelyard.telemetry.webhook_signature import EVENT_ID_HEADER, SIGNATURE_HEADER, verify


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    answered: int


@dataclass
class Receiver:
    secret: str
    fail_first: int = 0
    always_fail: bool = False
    received: list[Received] = field(default_factory=list)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/alerts"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        signed = verify(self.secret, headers.get(SIGNATURE_HEADER, ""), body, now=time.time())
        with self.lock:
            failing = self.always_fail or len(self.received) < self.fail_first
            status = 500 if failing else 200
            self.received.append(Received(path, headers, body, signed, status))
        return status

    def event_ids(self, status: int = 200) -> list[str]:
        with self.lock:
            return [r.headers[EVENT_ID_HEADER] for r in self.received if r.answered == status]


@contextmanager
def receiving(secret: str, **behaviour: Any) -> Iterator[Receiver]:
    receiver = Receiver(secret, **behaviour)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.answer(self.path, dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

"""`KeepAliveClients`: clients that send HTTP/1.1 requests back to back on keep-alive
connections, from inside a network namespace (or the host), and count every failure.

Each client behaves like a plain HTTP library without retries (http.client): it reuses its
connection until a response says `Connection: close`, then opens a new one. Any exception on a
request is a failure, kept with its time, also a connection the server closed while it was
idle: a planned handover must produce none.

    with KeepAliveClients("tk-client", "198.18.112.10", 80, count=4) as clients:
        ...                       # hand the VIP over
    assert clients.failures() == []
"""

import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass
from types import TracebackType

from steelyard.network.namespaces import run_in_netns


@dataclass(frozen=True)
class Failure:
    at: float  # time.monotonic()
    client: int
    error: str


class KeepAliveClients:
    def __init__(
        self,
        netns: str | None,
        host: str,
        port: int,
        *,
        count: int = 4,
        path: str = "/",
        timeout: float = 5.0,
        header: str | None = None,
    ) -> None:
        self.netns = netns
        self.host = host
        self.port = port
        self.count = count
        self.path = path
        self.timeout = timeout
        self.header = header  # a response header to count answers by (who served them)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._failures: list[Failure] = []
        self._answered: Counter[str] = Counter()
        self._connections = 0
        self._errors: list[BaseException] = []

    def start(self) -> "KeepAliveClients":
        for index in range(self.count):
            thread = threading.Thread(target=self._run, args=(index,), name=f"keepalive-{index}")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        if self._errors:
            raise self._errors[0]

    def failures(self) -> list[Failure]:
        with self._lock:
            return list(self._failures)

    def answered(self) -> Counter[str]:
        """Successful requests by the value of `header` ("" without one)."""
        with self._lock:
            return Counter(self._answered)

    def requests(self) -> int:
        return sum(self.answered().values())

    def connections(self) -> int:
        with self._lock:
            return self._connections

    def wait_for_answers(self, count: int, *, polls: int = 3000) -> None:
        """Until `count` more requests have succeeded (polling every 10 ms, bounded)."""
        wanted = self.requests() + count
        for _ in range(polls):
            if self.requests() >= wanted:
                return
            time.sleep(0.01)
        raise AssertionError(f"keep-alive clients got fewer than {count} answers")

    def _run(self, index: int) -> None:
        try:
            if self.netns is None:
                self._loop(index)
            else:
                run_in_netns(self.netns, lambda: self._loop(index))
        except BaseException as exc:  # reported by stop()
            self._errors.append(exc)

    def _loop(self, index: int) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self._stop.is_set():
            current = conn = conn or self._connect()
            try:
                current.request("GET", self.path)
                response = current.getresponse()
                response.read()
                if response.status != 200:
                    raise ValueError(f"HTTP {response.status}")
                with self._lock:
                    self._answered[response.getheader(self.header or "", "") or ""] += 1
                if response.will_close:
                    current.close()
                    conn = None
            except (OSError, ValueError, http.client.HTTPException) as exc:
                with self._lock:
                    self._failures.append(Failure(time.monotonic(), index, repr(exc)))
                current.close()
                conn = None
        if conn is not None:
            conn.close()

    def _connect(self) -> http.client.HTTPConnection:
        with self._lock:
            self._connections += 1
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def __enter__(self) -> "KeepAliveClients":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

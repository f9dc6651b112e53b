"""`GapProbe`: a client that opens a new TCP connection every 10 ms and measures outages.

The failover figure of issue 3 is "the longest gap between successful new connections of a
client that opens one every 10 ms". The probe starts one attempt per interval whatever the
others do (a lost SYN is retransmitted only after 1 s, so attempts must not wait for each
other), each with its own timeout, from inside a network namespace (a client on the VIP's
bridge) or from the host. With `http_header`, each attempt is an HTTP/1.0 request and records
that response header (e.g. which appliance answered).

    with GapProbe(netns, "198.18.112.10", 80, http_header="X-Served-By") as probe:
        ...                     # cause a failover
    report = probe.report()     # longest gap, failures, who answered
    print(report.describe())

Times are `time.monotonic()`; an attempt counts when it finished successfully, so the gap
between two successes is the time during which no new connection got through.
"""

import itertools
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType

from steelyard.network.namespaces import run_in_netns


@dataclass(frozen=True)
class Attempt:
    started: float
    finished: float
    ok: bool
    served_by: str | None = None  # the `http_header` value of the answer
    error: str | None = None


@dataclass(frozen=True)
class GapReport:
    attempts: int
    failures: int
    longest_gap_s: float  # between two consecutive successes (0 with fewer than two)
    gap_from: float | None  # the success before the longest gap
    gap_to: float | None  # the success after it
    served_by: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def describe(self) -> str:
        served = ", ".join(f"{name} {count}" for name, count in sorted(self.served_by.items()))
        errors = ", ".join(f"{name} {count}" for name, count in self.errors.most_common())
        return (
            f"longest gap {self.longest_gap_s * 1000:.0f} ms, {self.failures} of "
            f"{self.attempts} attempts failed ({errors or 'none'}); answered by: {served or '-'}"
        )


def longest_gap(attempts: list[Attempt]) -> GapReport:
    """The report of `attempts` (pure: the probe's results, or any list of them)."""
    successes = sorted(attempt.finished for attempt in attempts if attempt.ok)
    gap, gap_from, gap_to = 0.0, None, None
    for before, after in itertools.pairwise(successes):
        if after - before > gap:
            gap, gap_from, gap_to = after - before, before, after
    return GapReport(
        attempts=len(attempts),
        failures=sum(1 for attempt in attempts if not attempt.ok),
        longest_gap_s=gap,
        gap_from=gap_from,
        gap_to=gap_to,
        served_by=Counter(a.served_by for a in attempts if a.ok and a.served_by is not None),
        errors=Counter(a.error for a in attempts if a.error is not None),
    )


class GapProbe:
    def __init__(
        self,
        netns: str | None,
        host: str,
        port: int,
        *,
        interval: float = 0.01,
        timeout: float = 0.9,
        http_header: str | None = None,
        max_in_flight: int = 256,
    ) -> None:
        """`timeout` below 1 s: an attempt whose SYN was lost fails instead of succeeding
        late on the retransmit (which would hide the gap it fell into)."""
        self.netns = netns
        self.host = host
        self.port = port
        self.interval = interval
        self.timeout = timeout
        self.http_header = http_header
        self._family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="gap")
        self._attempts: list[Attempt] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._launcher: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> "GapProbe":
        self._launcher = threading.Thread(target=self._launch, name="gap-launcher", daemon=True)
        self._launcher.start()
        return self

    def stop(self) -> None:
        """Stop starting attempts and wait for those in flight."""
        self._stop.set()
        if self._launcher is not None:
            self._launcher.join()
        self._pool.shutdown(wait=True)
        if self._error is not None:
            raise self._error

    def attempts(self) -> list[Attempt]:
        with self._lock:
            return sorted(self._attempts, key=lambda attempt: attempt.started)

    def report(self, since: float | None = None, until: float | None = None) -> GapReport:
        """The report of the attempts started in [since, until] (all by default)."""
        low = float("-inf") if since is None else since
        high = float("inf") if until is None else until
        return longest_gap([a for a in self.attempts() if low <= a.started <= high])

    def wait_for_success(
        self, after: float, served_by: str | None = None, *, polls: int = 3000
    ) -> Attempt:
        """The first successful attempt started after `after` (answered by `served_by`, when
        given), polling every 10 ms a bounded number of times."""
        for _ in range(polls):
            for attempt in self.attempts():
                wanted = served_by is None or attempt.served_by == served_by
                if attempt.started > after and attempt.ok and wanted:
                    return attempt
            time.sleep(0.01)
        raise AssertionError(f"no successful connection to {self.host} after {after}")

    def __enter__(self) -> "GapProbe":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _launch(self) -> None:
        # Sockets belong to the namespace of the thread that creates them: they are made here
        # (inside `netns`) and used by the pool's threads.
        try:
            if self.netns is None:
                self._launch_here()
            else:
                run_in_netns(self.netns, self._launch_here)
        except BaseException as exc:  # reported by stop()
            self._error = exc

    def _launch_here(self) -> None:
        next_start = time.monotonic()
        while not self._stop.is_set():
            sock = socket.socket(self._family, socket.SOCK_STREAM)
            self._pool.submit(self._attempt, sock, time.monotonic())
            next_start += self.interval
            delay = next_start - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_start = time.monotonic()  # fell behind: no burst to catch up

    def _attempt(self, sock: socket.socket, started: float) -> None:
        served_by: str | None = None
        error: str | None = None
        try:
            with sock:
                sock.settimeout(max(0.0, self.timeout - (time.monotonic() - started)))
                sock.connect((self.host, self.port))
                if self.http_header is not None:
                    served_by = self._http(sock)
        except (OSError, ValueError) as exc:
            error = type(exc).__name__
        attempt = Attempt(started, time.monotonic(), error is None, served_by, error)
        with self._lock:
            self._attempts.append(attempt)

    def _http(self, sock: socket.socket) -> str | None:
        sock.sendall(f"GET / HTTP/1.0\r\nHost: {self.host}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        if not head[0].startswith("HTTP/") or head[0].split()[1:2] != ["200"]:
            raise ValueError(f"answer {head[0][:40]!r}")
        wanted = f"{self.http_header}:".lower()
        for line in head[1:]:
            if line.lower().startswith(wanted):
                return line.split(":", 1)[1].strip()
        return None

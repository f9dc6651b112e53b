"""A single-threaded client looping requests through a VIP, one new connection each, and the
two questions the member benchmark asks of what it saw.

Each request is recorded with the perf_counter at its start (before connect) and the member
that answered (X-Backend) or the error. The member HAProxy picked is decided after that start,
so "request i reached member m" says the change was not yet in force when request i began.
"""

import threading
import time
from dataclasses import dataclass

from bench.lb import http_get


@dataclass(frozen=True)
class Sample:
    start: float
    status: int | None
    backend: str  # member name, or the error when status is None


class Client:
    """Loops requests to host:port in a thread until stopped; `samples` grows as they end."""

    def __init__(self, host: str, port: int, timeout_s: float = 2.0) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-client", daemon=True)

    def __enter__(self) -> "Client":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            start = time.perf_counter()
            status, backend = http_get(self.host, self.port, self.timeout_s)
            self.samples.append(Sample(start, status, backend))


def gone_at(samples: list[Sample], member: str, since: float, window: int) -> float | None:
    """When `member` stopped receiving requests, judged from `samples` (ordered by start).

    The start of the first request k, beginning at or after `since`, such that neither k nor
    any later request reached `member`, provided at least `window` requests from k on were seen
    (None until then). With round robin over a few members, `window` requests without `member`
    cannot happen by chance, so the answer is final once it is not None.
    """
    first_after = next((i for i, s in enumerate(samples) if s.start >= since), None)
    if first_after is None:
        return None
    last_hit = max((i for i, s in enumerate(samples) if s.backend == member), default=-1)
    k = max(last_hit + 1, first_after)
    if len(samples) - k < window:
        return None
    return samples[k].start


def arrived_at(samples: list[Sample], member: str, since: float) -> float | None:
    """The start of the first request, beginning at or after `since`, that reached `member`."""
    return next((s.start for s in samples if s.start >= since and s.backend == member), None)


def errors_since(samples: list[Sample], since: float) -> dict[str, int]:
    """Requests beginning at or after `since` that got no answer or a non-200, by kind."""
    counts: dict[str, int] = {}
    for s in samples:
        if s.start >= since and s.status != 200:
            kind = f"HTTP {s.status}" if s.status else s.backend
            counts[kind] = counts.get(kind, 0) + 1
    return counts

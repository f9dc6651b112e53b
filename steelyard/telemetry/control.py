"""The control plane's own metrics, kept in memory by the process that does the work: API
requests by method and status class (counted by the API's middleware) and reconciles by
outcome with a duration histogram (reported by the reconciler). The API's /metrics adds them to
what it reads from the database; they start at zero with the process, as Prometheus expects
of counters.
"""

import bisect
import threading
from collections.abc import Callable

from steelyard.model.exposition import Family, Labels, histogram

RECONCILE_BOUNDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def status_class(status_code: int) -> str:
    return f"{status_code // 100}xx" if 100 <= status_code < 600 else "other"


class ControlPlaneMetrics:
    """Thread-safe: API handlers and reconcile workers report from their own threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str], int] = {}
        self._reconciles: dict[str, tuple[list[int], float]] = {}
        self._sources: list[Callable[[], list[Family]]] = []

    def include(self, source: Callable[[], list[Family]]) -> None:
        """Show the families another part of this process counts (the log collector's)."""
        self._sources.append(source)

    def api_request(self, method: str, status_code: int) -> None:
        # Methods are few; anything else is one label value, not one per client's whim.
        key = (method if method in METHODS else "other", status_class(status_code))
        with self._lock:
            self._requests[key] = self._requests.get(key, 0) + 1

    def reconciled(self, outcome: str, seconds: float) -> None:
        with self._lock:
            counts, total = self._reconciles.get(outcome, ([0] * (len(RECONCILE_BOUNDS) + 1), 0))
            counts[bisect.bisect_left(RECONCILE_BOUNDS, seconds)] += 1
            self._reconciles[outcome] = (counts, total + seconds)

    def families(self) -> list[Family]:
        with self._lock:
            requests = dict(self._requests)
            reconciles = {outcome: (list(c), s) for outcome, (c, s) in self._reconciles.items()}
        api = Family("steelyard_api_requests_total", "counter", "API requests answered")
        for (method, code), count in sorted(requests.items()):
            api.add(count, method=method, code=code)
        done = Family("steelyard_reconciles_total", "counter", "Reconciles, by outcome")
        by_outcome: dict[Labels, tuple[list[int], float]] = {}
        for outcome, (counts, total) in sorted(reconciles.items()):
            done.add(sum(counts), outcome=outcome)
            by_outcome[(("outcome", outcome),)] = (counts, total)
        took = histogram(
            "steelyard_reconcile_duration_seconds",
            "How long reconciles took, by outcome",
            RECONCILE_BOUNDS,
            by_outcome,
        )
        return [api, done, took, *(family for source in self._sources for family in source())]

"""The agent's log records in memory until the control plane reads them: one bounded buffer
per appliance (a noisy appliance evicts only its own oldest records) and one for the agent
itself, numbered by one sequence, so that a reader's cursor covers them all."""

import heapq
import threading
import uuid
from collections import deque
from datetime import datetime

from steelyard.agent.log_records import (
    FlowValues,
    LogBatch,
    LogRow,
    LogSource,
    Severity,
    to_micros,
)

DEFAULT_CAPACITY = 20_000  # records per appliance


class LogBuffer:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.epoch = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._seq = 0
        self._dropped = 0
        self._buffers: dict[str | None, deque[LogRow]] = {}
        self._forgotten: set[str] = set()

    def add(
        self,
        appliance: str | None,
        source: LogSource,
        time: datetime,
        severity: Severity,
        message: str = "",
        flow: FlowValues | None = None,
    ) -> None:
        """An admin record, or a flow record (`flow`: the values of log_records.FLOW_COLUMNS)."""
        self.add_row(appliance, source, to_micros(time), severity, message, flow)

    def add_row(
        self,
        appliance: str | None,
        source: LogSource,
        micros: int,
        severity: Severity,
        message: str = "",
        flow: FlowValues | None = None,
    ) -> None:
        """`add` with the time in microseconds since the epoch (once per request: no datetime)."""
        with self._lock:
            self._seq += 1
            # Every caller passes checked values.
            record = (self._seq, appliance, source, micros, severity, message, flow)
            if appliance is not None:
                self._forgotten.discard(appliance)  # made again under the same name
            buffer = self._buffers.setdefault(appliance, deque())
            if len(buffer) >= self.capacity:
                buffer.popleft()
                self._dropped += 1
            buffer.append(record)

    def forget(self, appliance: str) -> None:
        """The appliance is gone: its buffer goes once a reader has read past its records."""
        with self._lock:
            self._forgotten.add(appliance)

    def read(self, after: int, limit: int) -> LogBatch:
        """Up to `limit` records numbered above `after`, oldest first."""
        with self._lock:
            pending = [_newer(buffer, after) for buffer in self._buffers.values()]
            records = list(heapq.merge(*pending, key=_seq))[:limit]
            cursor = records[-1][0] if records else min(after, self._seq)
            for name in list(self._forgotten):
                buffer = self._buffers.get(name)
                if buffer is None or not buffer or buffer[-1][0] <= cursor:
                    self._buffers.pop(name, None)
                    self._forgotten.discard(name)
            return LogBatch(self.epoch, cursor, records, self._dropped)


def _seq(row: LogRow) -> int:
    return row[0]


def _newer(buffer: deque[LogRow], after: int) -> list[LogRow]:
    """The records numbered above `after`, from the end: a reader that keeps up costs only
    what is new."""
    newer: list[LogRow] = []
    for record in reversed(buffer):
        if record[0] <= after:
            break
        newer.append(record)
    newer.reverse()
    return newer

"""The log collector: polls the agent's `GET /v1/logs` (every `interval_s`), stores flow and
admin records under their load balancer and project, forwards them to the remote syslog
targets, and prunes the tables by age and row count.

Each record is stored once per epoch and cursor of the agent; a restarted agent (a new epoch)
is read from its start. Flow records of an appliance that serves no load balancer (deleted
meanwhile) are dropped. Nothing here waits for a syslog target: senders queue and drop.
"""

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from steelyard.agent.log_records import LogBatch, LogRow, from_micros
from steelyard.db import models as m
from steelyard.db.logs import (
    FLOW_ROW_COLUMNS,
    FlowRow,
    Owner,
    add_flow_rows,
    add_rows,
    owners,
    prune,
    stored_time,
    table_state,
)
from steelyard.model.exposition import Family
from steelyard.telemetry.logs_offload import admin_message, flow_message
from steelyard.telemetry.logs_retention import Retention, plan_prune
from steelyard.telemetry.syslog_sender import SyslogSender

log = logging.getLogger(__name__)

BATCH = 20_000  # records per read: one buffer's backlog at once
PRUNE_EVERY_S = 30.0
_OWNER_CACHE = 10_000


class LogSource(Protocol):
    def logs(self, after: int = 0, limit: int = 1000) -> LogBatch: ...  # agent/client.py


@dataclass
class CollectorCounters:
    flow_rows: int = 0
    admin_rows: int = 0
    unowned_flows: int = 0  # flow records of appliances that serve no load balancer
    agent_dropped: int = 0  # what the agent's buffers evicted before being read (all epochs)
    pruned: int = 0


@dataclass
class LogCollector:
    sessions: sessionmaker[Session]
    agent: LogSource
    clock: Callable[[], datetime]  # naive UTC
    retention: Retention = field(default_factory=Retention)
    flow_targets: Sequence[SyslogSender] = ()
    admin_targets: Sequence[SyslogSender] = ()
    interval_s: float = 0.5
    counters: CollectorCounters = field(default_factory=CollectorCounters)
    _epoch: str | None = None
    _cursor: int = 0
    _dropped_before_epoch: int = 0  # agent_dropped of the agent's earlier epochs
    _owners: dict[str, Owner] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _hostname: str = field(default_factory=socket.gethostname)

    def start(self) -> None:
        for sender in (*self.flow_targets, *self.admin_targets):
            sender.start()
        self._thread = threading.Thread(target=self._run, name="log-collector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for sender in (*self.flow_targets, *self.admin_targets):
            sender.stop()

    def _run(self) -> None:
        next_prune = time.monotonic()
        failing = False
        while not self._stop.wait(self.interval_s):
            try:
                while self.poll_once() >= BATCH:
                    pass  # a backlog: read on at once
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + PRUNE_EVERY_S
                    self.prune_once()
            except Exception:  # the agent restarting, the database busy: try again next time
                if not failing:  # once per outage, not twice a second
                    log.warning("log collection failed; retrying", exc_info=True)
                failing = True
                continue
            if failing:
                log.info("log collection works again")
            failing = False

    def poll_once(self) -> int:
        """Read, store and forward one batch; returns how many records it held."""
        batch = self.agent.logs(self._cursor if self._epoch is not None else 0, BATCH)
        if batch.epoch != self._epoch:
            if self._epoch is not None:
                log.info("log collector: the agent restarted; reading its logs from the start")
                batch = self.agent.logs(0, BATCH)
                self._dropped_before_epoch = self.counters.agent_dropped
            self._epoch = batch.epoch
        dropped = self._dropped_before_epoch + batch.dropped
        if dropped > self.counters.agent_dropped:
            log.warning("the agent dropped %d log records unread", dropped)
            self.counters.agent_dropped = dropped
        self._store(batch.rows)
        self._cursor = batch.cursor
        return len(batch.rows)

    def prune_once(self) -> int:
        removed = 0
        with self.sessions.begin() as session:
            for table in (m.FlowLog, m.AdminLog):
                rows, newest = table_state(session, table)
                plan = plan_prune(self.clock(), self.retention, rows, newest)
                removed += prune(session, table, plan.older_than, plan.ids_up_to)
        self.counters.pruned += removed
        return removed

    def families(self) -> list[Family]:
        """The pipeline's counters for /metrics, since this process started."""
        counters = self.counters
        stored = Family("steelyard_log_records_stored_total", "counter", "Log records stored")
        stored.add(counters.flow_rows, kind="flow")
        stored.add(counters.admin_rows, kind="admin")
        lost = Family(
            "steelyard_log_records_lost_total",
            "counter",
            "Log records never stored: evicted from the agent's buffer before the collector "
            "read them, or flow records of an appliance that serves no load balancer",
        )
        lost.add(counters.agent_dropped, reason="agent_buffer_full")
        lost.add(counters.unowned_flows, reason="no_loadbalancer")
        pruned = Family(
            "steelyard_log_rows_pruned_total", "counter", "Stored log rows removed by retention"
        )
        pruned.add(counters.pruned)
        offload = Family(
            "steelyard_log_offload_messages_total",
            "counter",
            "Syslog messages sent to a remote target, or dropped from its full queue",
        )
        for stream, senders in (("flow", self.flow_targets), ("admin", self.admin_targets)):
            for sender in senders:
                target = str(sender.target)
                offload.add(sender.sent, stream=stream, target=target, outcome="sent")
                offload.add(sender.dropped, stream=stream, target=target, outcome="dropped")
        return [stored, lost, pruned, offload]

    def _store(self, rows: list[LogRow]) -> None:
        if not rows:
            return
        found = self._owners_of(rows)
        flows: list[FlowRow] = []
        admins: list[dict[str, Any]] = []
        for row in rows:
            _, appliance, _, micros, _, _, values = row
            owner = found.get(appliance) if appliance else None
            if values is not None:
                if owner is None or appliance is None:
                    self.counters.unowned_flows += 1
                    continue
                lb_id, project_id = owner.loadbalancer_id, owner.project_id
                flows.append((stored_time(micros), lb_id, project_id, appliance, *values))
            else:
                admins.append(admin_row(row, owner))
        with self.sessions.begin() as session:
            add_flow_rows(session, flows)
            add_rows(session, m.AdminLog, admins)
        self.counters.flow_rows += len(flows)
        self.counters.admin_rows += len(admins)
        if self.flow_targets:
            for flow in flows:
                message = flow_message(offload_row(flow))
                for sender in self.flow_targets:
                    sender.send(message)
        for admin in admins:
            message = admin_message(admin, self._hostname)
            for sender in self.admin_targets:
                sender.send(message)

    def _owners_of(self, rows: list[LogRow]) -> dict[str, Owner]:
        names = {row[1] for row in rows if row[1]}
        unknown = names - self._owners.keys()
        if unknown:
            if len(self._owners) > _OWNER_CACHE:
                self._owners.clear()
            with self.sessions() as session:
                self._owners.update(owners(session, unknown))
        return self._owners


def offload_row(flow: FlowRow) -> dict[str, Any]:
    """A stored flow row by column name, its time naive UTC (what logs_offload formats)."""
    row = dict(zip(FLOW_ROW_COLUMNS, flow, strict=True))
    row["created_at"] = datetime.fromisoformat(row["created_at"])
    return row


def admin_row(row: LogRow, owner: Owner | None) -> dict[str, Any]:
    _, appliance, source, micros, severity, message, _ = row
    return {
        "created_at": from_micros(micros).replace(tzinfo=None),  # the database's naive UTC
        "source": source,
        "severity": severity,
        "appliance": appliance,
        "loadbalancer_id": owner.loadbalancer_id if owner else None,
        "project_id": owner.project_id if owner else None,
        "message": message,
    }

"""The agent's log receiver without HAProxy: datagrams on an appliance's socket, keepalived's
files, and the agent's own log records, into the buffer."""

import logging
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from steelyard.agent.layout import ApplianceLayout
from steelyard.agent.log_buffer import LogBuffer
from steelyard.agent.log_receiver import AgentLogs, start_agent_logs
from steelyard.agent.log_records import LogRecord


@pytest.fixture
def layout() -> Iterator[ApplianceLayout]:
    with tempfile.TemporaryDirectory(prefix="syl-", dir="/tmp") as root:  # short socket paths
        yield ApplianceLayout(Path(root) / "app-1")


@pytest.fixture
def logs(layout: ApplianceLayout) -> Iterator[AgentLogs]:
    layout.root.mkdir()
    started = start_agent_logs([("app-1", layout)], lambda name: name == "app-1")
    yield started
    started.close()


def wait_for(buffer: LogBuffer, wanted: Callable[[list[LogRecord]], bool]) -> list[LogRecord]:
    for _ in range(200):  # a bound on how long the thread may take, not a timing assertion
        records = buffer.read(0, 1000).records
        if wanted(records):
            return records
        time.sleep(0.025)
    raise AssertionError(f"not found in {buffer.read(0, 1000).records}")


def test_datagrams_become_flow_and_haproxy_records(
    logs: AgentLogs, layout: ApplianceLayout
) -> None:
    flow = (
        "<134>1 2026-11-26T04:27:16.749791+00:00 - haproxy 1 - - sy1|"
        "11111111-1111-4111-8111-111111111111|198.18.0.1|1|1795667236.742|-|<NOSRV>|503|0|0|"
        "0|-1|-1|-1|0|SC--|GET / HTTP/1.1"
    )
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.sendto(flow.encode(), str(layout.log_socket))
        sender.sendto(
            b"<129>1 2026-11-26T04:27:17Z - haproxy 1 - - Server a/b is DOWN",
            str(layout.log_socket),
        )
        sender.sendto(b"junk \x00\xff", str(layout.log_socket))
    records = wait_for(logs.buffer, lambda got: len(got) >= 3)
    assert [(r.source, r.appliance) for r in records[:3]] == [
        ("flow", "app-1"),
        ("haproxy", "app-1"),
        ("haproxy", "app-1"),
    ]
    assert records[0].flow is not None and records[0].flow.status_code == 503
    assert records[2].message == "junk ?\ufffd"  # NUL replaced, invalid UTF-8 marked


def test_keepalived_state_changes_and_output(logs: AgentLogs, layout: ApplianceLayout) -> None:
    layout.vrrp_state.write_text("MASTER\n")
    layout.keepalived_output.write_text("Starting VRRP child process\nhalf a line")
    records = wait_for(logs.buffer, lambda got: len(got) >= 2)
    texts = {(r.source, r.severity, r.message) for r in records}
    assert ("keepalived", "notice", "VRRP state unknown -> MASTER") in texts
    assert ("keepalived", "info", "Starting VRRP child process") in texts
    assert not any("half a line" in r.message for r in records)  # until its newline comes


def test_the_agents_records_go_under_the_appliance_they_name(logs: AgentLogs) -> None:
    log = logging.getLogger("steelyard.agent")
    log.warning("%s: generation %d refused: %s", "app-1", 3, "bad\nconfig")
    log.info("%s: not an appliance of this agent", "other")
    log.info("agent started")
    records = logs.buffer.read(0, 100).records
    assert [(r.appliance, r.severity, r.message) for r in records] == [
        ("app-1", "warning", "app-1: generation 3 refused: bad?config"),
        (None, "info", "other: not an appliance of this agent"),
        (None, "info", "agent started"),
    ]


def test_close_stops_collecting(layout: ApplianceLayout) -> None:
    layout.root.mkdir()
    logs = start_agent_logs([("app-1", layout)], lambda name: True)
    logs.close()
    logging.getLogger("steelyard.agent").info("%s: after close", "app-1")
    assert logs.buffer.read(0, 10).records == []

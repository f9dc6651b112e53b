"""Start, serve, refuse bad configs, roll back, delete: the agent driving a real HAProxy."""

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from steelyard.agent.client import AgentApplyError, AgentClient
from tests.integration.agent.helpers import (
    Backend,
    fetch,
    free_port,
    haproxy_cfg,
    pid_alive,
    spread,
)


@pytest.fixture
def occupied_port() -> Iterator[int]:
    """A port held by a plain listening socket (no SO_REUSEPORT): HAProxy cannot bind it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def servers(b1: Backend, b2: Backend) -> list[str]:
    return [
        f"server s1 127.0.0.1:{b1.port} weight 1",
        f"server s2 127.0.0.1:{b2.port} weight 1",
    ]


def test_start_serves_traffic(agent: AgentClient, backends: tuple[Backend, Backend]) -> None:
    info = agent.ensure_appliance("lb1")
    port = free_port()
    result = agent.apply_config(
        "lb1", 1, haproxy_cfg(info, port, servers(*backends)), [f"127.0.0.1:{port}"]
    )
    assert result.action == "started"
    assert spread(port, 10) == {"b1": 5, "b2": 5}
    now = agent.get_appliance("lb1")
    assert now is not None
    assert now.running
    assert now.generation == 1
    assert now.config_sha256 == result.config_sha256
    assert now.master_pid is not None and pid_alive(now.master_pid)
    assert len(now.worker_pids) == 1
    again = agent.apply_config("lb1", 2, haproxy_cfg(info, port, servers(*backends)))
    assert again.action == "unchanged"
    after = agent.get_appliance("lb1")
    assert after is not None
    assert after.generation == 2
    assert after.worker_pids == now.worker_pids
    assert "lb1" in agent.info().appliances


def test_config_change_reloads_in_place(
    agent: AgentClient, backends: tuple[Backend, Backend]
) -> None:
    info = agent.ensure_appliance("lb1")
    port = free_port()
    agent.apply_config("lb1", 1, haproxy_cfg(info, port, servers(*backends)))
    before = agent.get_appliance("lb1")
    new = haproxy_cfg(
        info, port, servers(*backends), frontend_extra="\n    http-response set-header X-Gen 2"
    )
    result = agent.apply_config("lb1", 2, new, [f"127.0.0.1:{port}"])
    assert result.action == "reloaded"
    after = agent.get_appliance("lb1")
    assert before is not None and after is not None
    assert after.master_pid == before.master_pid
    assert set(after.worker_pids).isdisjoint(before.worker_pids)
    assert fetch(port, header="X-Gen").endswith("X-Gen=2")


def test_rejected_config_keeps_the_old_one_serving(
    agent: AgentClient, backends: tuple[Backend, Backend], state_dir: Path
) -> None:
    info = agent.ensure_appliance("lb1")
    port = free_port()
    good = haproxy_cfg(info, port, servers(*backends))
    agent.apply_config("lb1", 1, good)
    before = agent.get_appliance("lb1")
    with pytest.raises(AgentApplyError) as caught:
        agent.apply_config("lb1", 2, good + "    bogus-keyword 1\n")
    error = caught.value.error
    assert (error.stage, error.rolled_back) == ("validate", False)
    assert "bogus-keyword" in error.output
    after = agent.get_appliance("lb1")
    assert after == before
    assert (state_dir / "appliances/lb1/haproxy.cfg").read_text() == good
    assert spread(port, 4) == {"b1": 2, "b2": 2}


def test_listener_check_failure_rolls_back(
    agent: AgentClient, backends: tuple[Backend, Backend], state_dir: Path
) -> None:
    info = agent.ensure_appliance("lb1")
    port = free_port()
    good = haproxy_cfg(info, port, servers(*backends))
    agent.apply_config("lb1", 1, good)
    new = haproxy_cfg(
        info, port, servers(*backends), frontend_extra="\n    http-response set-header X-Gen 2"
    )
    nobody = free_port()
    with pytest.raises(AgentApplyError) as caught:
        agent.apply_config("lb1", 2, new, [f"127.0.0.1:{port}", f"127.0.0.1:{nobody}"])
    error = caught.value.error
    assert (error.stage, error.rolled_back) == ("verify", True)
    assert f"127.0.0.1:{nobody}" in error.error
    assert (state_dir / "appliances/lb1/haproxy.cfg").read_text() == good
    assert fetch(port, header="X-Gen").endswith("X-Gen=None")
    after = agent.get_appliance("lb1")
    assert after is not None
    assert after.generation == 1
    assert after.running


def test_reload_that_cannot_bind_rolls_back(
    agent: AgentClient, backends: tuple[Backend, Backend], occupied_port: int
) -> None:
    info = agent.ensure_appliance("lb1")
    port = free_port()
    agent.apply_config("lb1", 1, haproxy_cfg(info, port, servers(*backends)))
    before = agent.get_appliance("lb1")
    clash = haproxy_cfg(
        info, port, servers(*backends), extra_bind=f"\n    bind 127.0.0.1:{occupied_port}"
    )
    with pytest.raises(AgentApplyError) as caught:
        agent.apply_config("lb1", 2, clash)
    assert (caught.value.error.stage, caught.value.error.rolled_back) == ("reload", True)
    after = agent.get_appliance("lb1")
    assert before is not None and after is not None
    assert after.master_pid == before.master_pid
    assert after.generation == 1
    assert spread(port, 4) == {"b1": 2, "b2": 2}


def test_start_that_cannot_bind_leaves_nothing_running(
    agent: AgentClient, backends: tuple[Backend, Backend], occupied_port: int, state_dir: Path
) -> None:
    info = agent.ensure_appliance("lb1")
    cfg = haproxy_cfg(info, occupied_port, servers(*backends))
    with pytest.raises(AgentApplyError) as caught:
        agent.apply_config("lb1", 1, cfg)
    error = caught.value.error
    assert (error.stage, error.rolled_back) == ("start", True)
    assert "cannot bind" in error.output.lower() or "address already in use" in error.output.lower()
    after = agent.get_appliance("lb1")
    assert after is not None
    assert (after.running, after.master_pid, after.generation) == (False, None, None)
    assert not (state_dir / "appliances/lb1/haproxy.cfg").exists()


def test_delete_leaves_no_process_and_no_files(
    agent: AgentClient, backends: tuple[Backend, Backend], state_dir: Path
) -> None:
    info = agent.ensure_appliance("lb1")
    port = free_port()
    agent.apply_config("lb1", 1, haproxy_cfg(info, port, servers(*backends)))
    running = agent.get_appliance("lb1")
    assert running is not None and running.master_pid is not None
    pids = [running.master_pid, *running.worker_pids]
    agent.delete_appliance("lb1")
    assert not any(pid_alive(pid) for pid in pids)
    assert not (state_dir / "appliances/lb1").exists()
    assert agent.get_appliance("lb1") is None
    agent.delete_appliance("lb1")  # idempotent


def test_stats_report_servers(agent: AgentClient, backends: tuple[Backend, Backend]) -> None:
    info = agent.ensure_appliance("lb1")
    port = free_port()
    agent.apply_config("lb1", 1, haproxy_cfg(info, port, servers(*backends)))
    spread(port, 6)
    rows = {(row.pxname, row.svname): row for row in agent.stats("lb1")}
    assert rows[("fe", "FRONTEND")].status == "OPEN"
    assert rows[("be", "s1")].stot == 3
    assert rows[("be", "s2")].hrsp_2xx == 3
    assert rows[("be", "BACKEND")].weight == 2

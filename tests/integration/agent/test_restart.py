"""The agent as a subprocess: HAProxy outlives it, and a new agent adopts the running HAProxy."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from steelyard.agent.client import AgentClient, AgentUnreachable
from steelyard.agent.pki import PkiPaths, client_ssl_context
from tests.integration.agent.helpers import (
    REPO,
    Backend,
    SubprocessAgent,
    fetch,
    free_port,
    haproxy_cfg,
    pid_alive,
    spread,
    wait_for,
)


@pytest.fixture
def started_agents() -> Iterator[list[SubprocessAgent]]:
    agents: list[SubprocessAgent] = []
    yield agents
    for agent in agents:
        agent.stop()


def servers(b1: Backend, b2: Backend) -> list[str]:
    return [f"server s1 127.0.0.1:{b1.port} weight 1", f"server s2 127.0.0.1:{b2.port} weight 1"]


@pytest.mark.slow
def test_restarted_agent_adopts_running_haproxy(
    state_dir: Path,
    pki: PkiPaths,
    short_tmp: Path,
    backends: tuple[Backend, Backend],
    started_agents: list[SubprocessAgent],
) -> None:
    first = SubprocessAgent(state_dir, pki, short_tmp / "agent1.log")
    started_agents.append(first)
    info = first.client.ensure_appliance("lb1")
    port = free_port()
    first.client.apply_config("lb1", 1, haproxy_cfg(info, port, servers(*backends)))
    before = first.client.get_appliance("lb1")
    assert before is not None and before.master_pid is not None

    first.kill()  # a crash: HAProxy keeps serving without its agent
    assert pid_alive(before.master_pid)
    assert spread(port, 4) == {"b1": 2, "b2": 2}

    second = SubprocessAgent(state_dir, pki, short_tmp / "agent2.log")
    started_agents.append(second)
    adopted = second.client.get_appliance("lb1")
    assert adopted == before
    assert "adopted running HAProxy" in (short_tmp / "agent2.log").read_text()

    header = "\n    http-response set-header X-Gen 2"
    result = second.client.apply_config(
        "lb1", 2, haproxy_cfg(info, port, servers(*backends), frontend_extra=header)
    )
    assert result.action == "reloaded"
    after = second.client.get_appliance("lb1")
    assert after is not None
    assert after.master_pid == before.master_pid
    assert fetch(port, header="X-Gen").endswith("X-Gen=2")


@pytest.mark.slow
def test_agent_exits_with_its_parent_but_haproxy_stays(
    state_dir: Path, pki: PkiPaths, short_tmp: Path, backends: tuple[Backend, Backend]
) -> None:
    agent_port = free_port()
    log = short_tmp / "agent.log"
    agent_argv = [
        sys.executable,
        "-m",
        "steelyard.agent",
        "--listen",
        f"127.0.0.1:{agent_port}",
        "--state-dir",
        str(state_dir),
        "--pki-dir",
        str(pki.dir),
        "--exit-with-parent",
    ]
    # A stand-in for the control-plane process: it starts the agent, prints its PID, waits.
    parent_code = (
        "import subprocess, sys\n"
        f"log = open({str(log)!r}, 'ab')\n"
        f"child = subprocess.Popen({agent_argv!r}, stdout=log, stderr=log)\n"
        "print(child.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    agent_pid = 0
    try:
        assert parent.stdout is not None
        agent_pid = int(parent.stdout.readline())
        with AgentClient(f"https://127.0.0.1:{agent_port}", client_ssl_context(pki)) as client:

            def answers() -> bool:
                try:
                    client.info()
                except AgentUnreachable:
                    return False
                return True

            wait_for(answers, "the agent", attempts=1000)
            info = client.ensure_appliance("lb1")
            port = free_port()
            client.apply_config("lb1", 1, haproxy_cfg(info, port, servers(*backends)))
            running = client.get_appliance("lb1")
        assert running is not None and running.master_pid is not None

        parent.kill()  # the control plane crashes
        parent.wait()
        wait_for(lambda: not pid_alive(agent_pid), "the agent to exit", attempts=2000)
        assert pid_alive(running.master_pid)
        assert spread(port, 4) == {"b1": 2, "b2": 2}
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdin is not None:
            parent.stdin.close()
        if parent.stdout is not None:
            parent.stdout.close()
        if agent_pid and pid_alive(agent_pid):
            cmdline = Path(f"/proc/{agent_pid}/cmdline").read_bytes()
            if b"steelyard.agent" in cmdline:
                os.kill(agent_pid, signal.SIGKILL)

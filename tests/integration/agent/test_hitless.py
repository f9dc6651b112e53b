"""Reloads under traffic: the master stays, workers change, and no request fails."""

import threading
from dataclasses import dataclass, field

import pytest

from steelyard.agent.client import AgentClient
from tests.integration.agent.helpers import Backend, fetch, free_port, haproxy_cfg

RELOADS = 30
MAX_REQUESTS = 200_000  # bounds the client loop even if the reloads never finish


@dataclass
class Traffic:
    ok: int = 0
    failed: list[str] = field(default_factory=list)


def loop_requests(port: int, stop: threading.Event, traffic: Traffic) -> None:
    for _ in range(MAX_REQUESTS):
        if stop.is_set():
            return
        try:
            fetch(port)
            traffic.ok += 1
        except Exception as exc:  # any failure at all is what this test counts
            traffic.failed.append(repr(exc))


@pytest.mark.slow
def test_reloads_under_traffic_fail_no_request(
    agent: AgentClient, backends: tuple[Backend, Backend]
) -> None:
    b1, b2 = backends
    info = agent.ensure_appliance("lb1")
    port = free_port()
    servers = [f"server s1 127.0.0.1:{b1.port} weight 1", f"server s2 127.0.0.1:{b2.port} weight 1"]

    def cfg(generation: int) -> str:
        header = f"\n    http-response set-header X-Gen {generation}"
        return haproxy_cfg(info, port, servers, frontend_extra=header)

    agent.apply_config("lb1", 0, cfg(0), [f"127.0.0.1:{port}"])
    first = agent.get_appliance("lb1")
    assert first is not None

    traffic = Traffic()
    stop = threading.Event()
    client = threading.Thread(target=loop_requests, args=(port, stop, traffic))
    client.start()
    workers = set(first.worker_pids)
    durations = []
    try:
        for generation in range(1, RELOADS + 1):
            result = agent.apply_config("lb1", generation, cfg(generation), [f"127.0.0.1:{port}"])
            assert result.action == "reloaded"
            durations.append(result.duration_ms)
            now = agent.get_appliance("lb1")
            assert now is not None
            assert now.master_pid == first.master_pid
            workers |= set(now.worker_pids)
    finally:
        stop.set()
        client.join()

    assert traffic.failed == []
    assert traffic.ok > RELOADS
    assert len(workers) == RELOADS + 1  # one new worker per reload
    assert fetch(port, header="X-Gen").endswith(f"X-Gen={RELOADS}")
    durations.sort()
    print(
        f"\n{RELOADS} reloads, {traffic.ok} requests, 0 failed; apply ms median "
        f"{durations[len(durations) // 2]:.1f}, max {durations[-1]:.1f}"
    )

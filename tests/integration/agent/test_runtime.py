"""Weight and enable/disable changes go through the runtime API, without a reload, and the
values the config holds win over runtime changes at the next reload."""

from pathlib import Path

from pytest import approx

from steelyard.agent.client import AgentClient
from steelyard.agent.contract import ApplianceInfo, StatRow
from steelyard.agent.runtime_api import RuntimeApi
from tests.integration.agent.helpers import Backend, free_port, haproxy_cfg, spread

EXTRA = "\n    http-response set-header X-Gen 2"


def cfg(
    info: ApplianceInfo,
    port: int,
    b1: Backend,
    b2: Backend,
    s1: str = "weight 1",
    s2: str = "weight 1",
    extra: str = "",
) -> str:
    servers = [f"server s1 127.0.0.1:{b1.port} {s1}", f"server s2 127.0.0.1:{b2.port} {s2}"]
    return haproxy_cfg(info, port, servers, frontend_extra=extra)


def server_rows(agent: AgentClient, name: str) -> dict[str, StatRow]:
    return {row.svname: row for row in agent.stats(name) if row.pxname == "be"}


def test_weight_change_is_a_runtime_command(
    agent: AgentClient, backends: tuple[Backend, Backend]
) -> None:
    b1, b2 = backends
    info = agent.ensure_appliance("lb1")
    port = free_port()
    agent.apply_config("lb1", 1, cfg(info, port, b1, b2))
    before = agent.get_appliance("lb1")

    drained = agent.apply_config("lb1", 2, cfg(info, port, b1, b2, s2="weight 0"))
    assert drained.action == "runtime"
    assert drained.runtime_commands == ["set server be/s2 weight 0"]
    assert spread(port, 10) == {"b1": 10}
    assert server_rows(agent, "lb1")["s2"].weight == 0

    weighted = agent.apply_config("lb1", 3, cfg(info, port, b1, b2, s1="weight 3"))
    assert weighted.runtime_commands == [
        "set server be/s1 weight 3",
        "set server be/s2 weight 1",
    ]
    counts = spread(port, 40)
    assert counts["b1"] == approx(30, abs=2)
    assert counts["b2"] == approx(10, abs=2)

    after = agent.get_appliance("lb1")
    assert before is not None and after is not None
    assert after.worker_pids == before.worker_pids  # no reload happened
    assert after.generation == 3
    assert after.config_sha256 == weighted.config_sha256
    assert weighted.duration_ms < drained.duration_ms + 1000  # sanity: a figure is reported


def test_disabled_toggles_through_the_runtime_api(
    agent: AgentClient, backends: tuple[Backend, Backend]
) -> None:
    b1, b2 = backends
    info = agent.ensure_appliance("lb1")
    port = free_port()
    agent.apply_config("lb1", 1, cfg(info, port, b1, b2))
    before = agent.get_appliance("lb1")

    off = agent.apply_config("lb1", 2, cfg(info, port, b1, b2, s1="weight 1 disabled"))
    assert off.runtime_commands == ["set server be/s1 state maint"]
    assert server_rows(agent, "lb1")["s1"].status == "MAINT"
    assert spread(port, 6) == {"b2": 6}

    on = agent.apply_config("lb1", 3, cfg(info, port, b1, b2))
    assert on.runtime_commands == ["set server be/s1 state ready"]
    assert server_rows(agent, "lb1")["s1"].status == "no check"
    assert spread(port, 6) == {"b1": 3, "b2": 3}

    after = agent.get_appliance("lb1")
    assert before is not None and after is not None
    assert after.worker_pids == before.worker_pids


def test_config_weight_wins_over_an_earlier_runtime_weight_at_reload(
    agent: AgentClient, backends: tuple[Backend, Backend]
) -> None:
    # HAProxy alone would restore the runtime weight 4 from the server-state file, because
    # the weight in the new config equals the one it started with.
    b1, b2 = backends
    info = agent.ensure_appliance("lb1")
    port = free_port()
    agent.apply_config("lb1", 1, cfg(info, port, b1, b2))
    assert agent.apply_config("lb1", 2, cfg(info, port, b1, b2, s1="weight 4")).action == "runtime"
    reloaded = agent.apply_config("lb1", 3, cfg(info, port, b1, b2, extra=EXTRA))
    assert reloaded.action == "reloaded"
    assert server_rows(agent, "lb1")["s1"].weight == 1
    assert spread(port, 8) == {"b1": 4, "b2": 4}


def test_server_enabled_by_a_reload_comes_up(
    agent: AgentClient, backends: tuple[Backend, Backend]
) -> None:
    # HAProxy alone would keep the server's "stopped" state from the server-state file, and
    # without health checks nothing would ever bring it up.
    b1, b2 = backends
    info = agent.ensure_appliance("lb1")
    port = free_port()
    agent.apply_config("lb1", 1, cfg(info, port, b1, b2, s2="weight 1 disabled"))
    assert spread(port, 4) == {"b1": 4}
    reloaded = agent.apply_config("lb1", 2, cfg(info, port, b1, b2, extra=EXTRA))
    assert reloaded.action == "reloaded"
    assert server_rows(agent, "lb1")["s2"].status == "no check"
    assert spread(port, 4) == {"b1": 2, "b2": 2}


def test_health_state_survives_a_reload(
    agent: AgentClient, backends: tuple[Backend, Backend]
) -> None:
    b1, b2 = backends
    info = agent.ensure_appliance("lb1")
    port = free_port()
    # HAProxy spreads first checks over `inter`: s1 is checked at once, s2 only after 30 s,
    # so s2's health is what the test sets, before and after the reload.
    check = " check inter 60s fall 1 rise 1"
    servers = [
        f"server s1 127.0.0.1:{b1.port} weight 1{check}",
        f"server s2 127.0.0.1:{b2.port} weight 1{check}",
    ]
    agent.apply_config("lb1", 1, haproxy_cfg(info, port, servers))
    RuntimeApi(Path(info.paths.stats_socket)).execute("set server be/s2 health down")
    assert server_rows(agent, "lb1")["s2"].status.startswith("DOWN")
    reloaded = agent.apply_config("lb1", 2, haproxy_cfg(info, port, servers, frontend_extra=EXTRA))
    assert reloaded.action == "reloaded"
    # Without the carried state s2 would start UP in the new worker.
    assert server_rows(agent, "lb1")["s2"].status.startswith("DOWN")
    assert spread(port, 4) == {"b1": 4}

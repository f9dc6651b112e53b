"""High availability end to end (issue 3): real keepalived, HAProxy, namespaces, heartbeats.

Each test runs a netns server, creates a load balancer whose flavor picks the topology, breaks
an appliance the way a real failure would (its link down, its processes killed), and checks
that traffic through the VIP goes on and that the load balancer returns to full redundancy
without anyone acting. Clients are a gap probe on the host side of the VIP bridge opening a
new connection every 10 ms; the gaps are printed (the benchmarks measure them), and what is
asserted is the behaviour: the probe succeeds again, the roles and appliances are as expected.
"""

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.agent_access import agent_for
from tests.e2e.conftest import Backends
from tests.e2e.ha_tools import (
    amphorae,
    by_role,
    kill_haproxy,
    link_down,
    make_flavor,
    vip_holders,
    wait_redundant,
)
from tests.e2e.harness import ServerHandle, kill_hard, restart, running_server, wait_until
from tests.e2e.lbtools import create_lb, lb_body, spread, vip_url, wait_active
from tests.support.gap_probe import GapProbe

pytestmark = [pytest.mark.root, pytest.mark.slow]
AS = ["BACKUP", "MASTER"]


@pytest.fixture
def ha_server(tmp_path: Path) -> Iterator[ServerHandle]:
    if os.geteuid() != 0:
        pytest.skip("the netns driver needs root")
    with running_server(tmp_path, "netns") as handle:
        yield handle
        print(f"server log (last lines):\n{handle.log_tail(40)}")  # shown when a test fails


@pytest.fixture
def spare_server(tmp_path: Path) -> Iterator[ServerHandle]:
    if os.geteuid() != 0:
        pytest.skip("the netns driver needs root")
    with running_server(tmp_path, "netns", ("--spare-pool", "1")) as handle:
        yield handle
        print(f"server log (last lines):\n{handle.log_tail(40)}")


def _create(
    handle: ServerHandle, backends: Backends, topology: str, **flavor: Any
) -> tuple[httpx.Client, dict[str, Any]]:
    """An admin client (closed with the server's tests) and an ACTIVE load balancer."""
    admin = handle.api(project=None)
    handle.clients.append(admin)
    started = backends.start(handle, 2)
    body = lb_body(started, handle.member_host)
    if topology != "SINGLE":
        body["loadbalancer"]["flavor_id"] = make_flavor(admin, topology, **flavor)
    with handle.api() as tenant:
        lb = create_lb(tenant, body)
        return admin, wait_active(tenant, lb["id"], timeout_s=60)


def _vip_on(found: list[dict[str, Any]], lb: dict[str, Any], name: str) -> None:
    wait_until(lambda: vip_holders(found, lb["vip_address"]) == [name], 10)


def _probe(lb: dict[str, Any]) -> GapProbe:
    return GapProbe(None, lb["vip_address"], 80, http_header="X-Backend")


def _served_after(probe: GapProbe, moment: float) -> None:
    """New connections succeed again after `moment` (a bounded wait, then a failure)."""
    probe.wait_for_success(moment)


def test_active_standby_master_link_down_backup_serves_and_a_replacement_pairs(
    ha_server: ServerHandle, backends: Backends
) -> None:
    admin, lb = _create(ha_server, backends, "ACTIVE_STANDBY")
    pair = wait_redundant(admin, lb["id"], AS)
    master, backup = by_role(pair, "MASTER"), by_role(pair, "BACKUP")
    _vip_on(pair, lb, master["name"])
    assert set(spread(vip_url(lb), 6)) == {"b1", "b2"}

    with _probe(lb) as probe:
        time.sleep(0.5)
        broke = time.monotonic()
        link_down(master["compute_id"])
        _served_after(probe, broke + 0.05)
        # The health manager notices the silence, a replacement is built and paired.
        healed = wait_redundant(admin, lb["id"], AS, gone=frozenset({master["id"]}))
        time.sleep(0.5)
    report = probe.report(since=broke - 0.2)
    print(f"\nMASTER link down: {report.describe()}")
    assert by_role(healed, "MASTER")["id"] == backup["id"]  # the survivor kept the VIP
    assert by_role(healed, "BACKUP")["id"] != master["id"]
    _vip_on(healed, lb, backup["name"])
    # Traffic went on through the former BACKUP: successes after the break, from both members.
    after = probe.report(since=broke + 2)
    assert after.failures == 0 and set(after.served_by) == {"b1", "b2"}
    events = admin.get("/v2/operator/events", params={"loadbalancer_id": lb["id"]}).json()
    kinds = {e["type"] for e in events["events"]}
    assert {"appliance.failed", "appliance.removed"} <= kinds


def test_active_standby_haproxy_death_in_master_moves_the_vip(
    ha_server: ServerHandle, backends: Backends
) -> None:
    admin, lb = _create(ha_server, backends, "ACTIVE_STANDBY")
    pair = wait_redundant(admin, lb["id"], AS)
    master, backup = by_role(pair, "MASTER"), by_role(pair, "BACKUP")
    _vip_on(pair, lb, master["name"])
    with agent_for(ha_server) as agent, _probe(lb) as probe:
        time.sleep(0.3)
        broke = time.monotonic()
        kill_haproxy(agent, master["name"])
        _served_after(probe, broke + 0.05)
        _vip_on(pair, lb, backup["name"])
        moved = agent.get_appliance(backup["name"])
        assert moved is not None and moved.vrrp_state == "MASTER"
        time.sleep(0.3)
    print(f"\nHAProxy killed in the MASTER: {probe.report(since=broke - 0.2).describe()}")
    # Back to two healthy appliances by itself (the broken one restarted or replaced).
    wait_redundant(admin, lb["id"], AS)
    assert set(spread(vip_url(lb), 6)) == {"b1", "b2"}


def test_operator_failover_of_a_pair_replaces_both_without_an_outage(
    ha_server: ServerHandle, backends: Backends
) -> None:
    admin, lb = _create(ha_server, backends, "ACTIVE_STANDBY")
    before = {a["id"] for a in wait_redundant(admin, lb["id"], AS)}
    # Two clients: one gives up on a connection after 0.9 s (it measures the gap), one waits
    # as a browser would (a SYN lost while the VIP moves is sent again after 1 s).
    patient = GapProbe(None, lb["vip_address"], 80, interval=0.05, timeout=5.0)
    with _probe(lb) as probe, patient:
        time.sleep(0.3)
        started = time.monotonic()
        response = admin.put(f"/v2/lbaas/loadbalancers/{lb['id']}/failover")
        assert response.status_code == 202, response.text
        after = wait_redundant(admin, lb["id"], AS, gone=frozenset(before))
        time.sleep(0.3)
    report = probe.report(since=started)
    print(f"\noperator failover of a pair: {report.describe()}")
    print(f"  a patient client: {patient.report(since=started).describe()}")
    assert not {a["id"] for a in after} & before
    assert patient.report(since=started).failures == 0


def test_single_appliance_killed_a_warm_spare_takes_the_vip(
    spare_server: ServerHandle, backends: Backends
) -> None:
    admin = spare_server.api(project=None)
    spare_server.clients.append(admin)
    spare = wait_until(
        lambda: [a for a in _all_amphorae(admin) if a["status"] == "READY"], 60, interval_s=0.2
    )[0]
    _, lb = _create(spare_server, backends, "SINGLE")
    # The load balancer took the spare, and the pool refills.
    (first,) = wait_redundant(admin, lb["id"], ["STANDALONE"])
    assert first["id"] == spare["id"]
    refill = wait_until(
        lambda: [a for a in _all_amphorae(admin) if a["status"] == "READY"], 60, interval_s=0.2
    )[0]
    with _probe(lb) as probe:
        time.sleep(0.3)
        broke = time.monotonic()
        # Unreachable, as a dead host is: no traffic, no heartbeats. (Processes that die on a
        # reachable appliance are restarted in place, faster than any replacement.)
        link_down(first["compute_id"])
        (second,) = wait_redundant(admin, lb["id"], ["STANDALONE"], gone=frozenset({first["id"]}))
        first_ok = probe.wait_for_success(broke)
        time.sleep(0.3)
    print(
        f"\nSINGLE appliance lost, warm spare: first new connection after "
        f"{first_ok.finished - broke:.2f} s; {probe.report(since=broke - 0.3).describe()}"
    )
    assert second["id"] == refill["id"]  # adopted, not built
    assert set(spread(vip_url(lb), 4)) == {"b1", "b2"}


def _all_amphorae(admin: httpx.Client) -> list[dict[str, Any]]:
    response = admin.get("/v2/octavia/amphorae")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["amphorae"]
    return found


def test_server_killed_during_a_failover_converges_after_restart(
    ha_server: ServerHandle, backends: Backends
) -> None:
    admin, lb = _create(ha_server, backends, "ACTIVE_STANDBY")
    before = {a["id"] for a in wait_redundant(admin, lb["id"], AS)}
    assert admin.put(f"/v2/lbaas/loadbalancers/{lb['id']}/failover").status_code == 202
    # Killed once the first replacement exists, in the middle of the passes.
    wait_until(lambda: len(amphorae(admin, lb["id"])) > 2, 30, interval_s=0.02)
    kill_hard(ha_server)
    restart(ha_server)
    after = wait_redundant(admin, lb["id"], AS, gone=frozenset(before), timeout_s=90)
    _vip_on(after, lb, by_role(after, "MASTER")["name"])
    assert set(spread(vip_url(lb), 6)) == {"b1", "b2"}


def test_active_active_spreads_over_three_and_survives_losing_one(
    ha_server: ServerHandle, backends: Backends
) -> None:
    admin, lb = _create(ha_server, backends, "ACTIVE_ACTIVE", appliance_count=3)
    trio = wait_redundant(admin, lb["id"], ["ACTIVE"] * 3)
    assert vip_holders(trio, lb["vip_address"]) == []  # on lo: the router answers for it
    with agent_for(ha_server) as agent:
        before = _frontend_sessions(agent, trio)
        assert set(spread(vip_url(lb), 90)) == {"b1", "b2"}
        gained = {n: c - before[n] for n, c in _frontend_sessions(agent, trio).items()}
        print(f"\n90 connections over three appliances: {gained}")
        assert all(count >= 9 for count in gained.values()), gained  # each a real share

        victim = trio[1]
        with _probe(lb) as probe:
            time.sleep(0.3)
            broke = time.monotonic()
            link_down(victim["compute_id"])  # unreachable: its flows fail until it is routed out
            healed = wait_redundant(admin, lb["id"], ["ACTIVE"] * 3, gone=frozenset({victim["id"]}))
            converged = time.monotonic()
            time.sleep(1.0)
    print(f"\nACTIVE_ACTIVE lost one: {probe.report(since=broke).describe()}")
    # Once the routes converged (the dead one out, a replacement in), no new connection fails.
    assert probe.report(since=converged).failures == 0
    assert len(healed) == 3


def _frontend_sessions(agent: Any, found: list[dict[str, Any]]) -> dict[str, int]:
    totals = {}
    for amphora in found:
        rows = agent.stats(amphora["name"])
        totals[amphora["name"]] = sum(r.stot for r in rows if r.svname == "FRONTEND")
    return totals

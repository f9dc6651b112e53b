"""Configuration drift on a real appliance is found and repaired without an operator.

Someone edits the appliance's haproxy.cfg by hand (a member's server line removed) and reloads
HAProxy through its master socket, as an operator on the host could. The heartbeats then carry
the hash of the edited file; within a few seconds the server records `config.drift`, pushes the
config from the database again (the agent reloads it), traffic reaches every member again and
`config.repaired` follows.
"""

import time
from typing import Any

import httpx
import pytest

from steelyard.agent.layout import layout_for
from steelyard.agent.master_cli import request_reload
from tests.e2e.agent_access import agent_for, appliance_of
from tests.e2e.conftest import Backends
from tests.e2e.harness import ServerHandle, wait_until
from tests.e2e.lbtools import create_lb, lb_body, pool_members, spread, vip_url, wait_active

pytestmark = pytest.mark.root


def events(admin: httpx.Client, lb_id: str, kind: str) -> list[dict[str, Any]]:
    found = admin.get("/v2/operator/events", params={"type": kind, "loadbalancer_id": lb_id})
    found.raise_for_status()
    return list(found.json()["events"])


def test_a_hand_edited_config_is_detected_and_restored(
    netns_server: ServerHandle, backends: Backends
) -> None:
    members = backends.start(netns_server)
    with netns_server.api() as api, netns_server.api(project=None) as admin:
        lb = wait_active(api, create_lb(api, lb_body(members, netns_server.member_host))["id"])
        assert spread(vip_url(lb), 30) == {"b1": 10, "b2": 10, "b3": 10}
        name = appliance_of(lb["id"])
        with agent_for(netns_server) as agent:
            before = agent.get_appliance(name)
        assert before is not None and before.config_sha256 is not None

        layout = layout_for(netns_server.state_dir / "agent", name)
        original = layout.cfg.read_text()
        b3 = next(m for m in pool_members(api, lb["pools"][0]["id"]) if m["name"] == "b3")
        edited = "".join(
            line for line in original.splitlines(keepends=True) if b3["id"] not in line
        )
        assert edited != original
        layout.cfg.write_text(edited)  # in place, as an editor would
        edited_at = time.monotonic()
        request_reload(layout.master_socket)
        # The edit is in force: b3 gets nothing (until the repair, which may come soon).
        wait_until(lambda: "b3" not in spread(vip_url(lb), 6), timeout_s=10)

        (drift,) = wait_until(lambda: events(admin, lb["id"], "config.drift"), timeout_s=15)
        detected_s = time.monotonic() - edited_at
        assert drift["severity"] == "warning"
        details = drift["operator_details"]
        assert details["appliance"] == name
        assert details["expected_sha256"] == before.config_sha256
        assert details["reported_sha256"] not in (None, before.config_sha256)
        assert details["expected_generation"] == details["reported_generation"]

        (repaired,) = wait_until(lambda: events(admin, lb["id"], "config.repaired"), timeout_s=15)
        repaired_s = time.monotonic() - edited_at
        assert repaired["severity"] == "info" and repaired["operator_details"]["appliance"] == name
        assert layout.cfg.read_text() == original
        wait_until(lambda: spread(vip_url(lb), 30) == {"b1": 10, "b2": 10, "b3": 10}, timeout_s=10)
        assert wait_active(api, lb["id"])["provisioning_status"] == "ACTIVE"
    print(f"\n[drift] detected {detected_s:.2f} s after the edit, repaired {repaired_s:.2f} s")

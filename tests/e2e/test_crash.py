"""SIGKILL the server in the middle of a create and of a delete; after a restart the load
balancer converges (level-triggered reconcile, leases of a dead process freed at once)."""

import time

import pytest

from tests.e2e.conftest import Backends
from tests.e2e.harness import ServerHandle, kill_hard, restart, wait_until
from tests.e2e.lbtools import (
    create_lb,
    get_lb,
    lb_body,
    spread,
    vip_url,
    wait_active,
)
from tests.e2e.test_traffic import _leftovers

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.mark.parametrize("kill_after_s", [0.0, 0.03, 0.1])
def test_killed_during_create_converges_after_restart(
    netns_server: ServerHandle, backends: Backends, kill_after_s: float
) -> None:
    members = backends.start(netns_server)
    with netns_server.api() as api:
        lb = create_lb(api, lb_body(members, netns_server.member_host))
    time.sleep(kill_after_s)
    kill_hard(netns_server)
    restart(netns_server)
    with netns_server.api() as api:
        lb = wait_active(api, lb["id"])
        assert spread(vip_url(lb), 9) == {"b1": 3, "b2": 3, "b3": 3}


@pytest.mark.parametrize("kill_after_s", [0.0, 0.05])
def test_killed_during_delete_converges_after_restart(
    netns_server: ServerHandle, backends: Backends, kill_after_s: float
) -> None:
    members = backends.start(netns_server)
    with netns_server.api() as api:
        lb = create_lb(api, lb_body(members, netns_server.member_host))
        wait_active(api, lb["id"])
        assert api.delete(f"/v2/lbaas/loadbalancers/{lb['id']}?cascade=true").status_code == 204
    time.sleep(kill_after_s)
    kill_hard(netns_server)
    restart(netns_server)
    with netns_server.api() as api:
        wait_until(lambda: get_lb(api, lb["id"]) is None)
    assert _leftovers(netns_server) == {"netns": [], "veths": [], "files": []}

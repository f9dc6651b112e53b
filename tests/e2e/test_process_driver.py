"""The process driver: HAProxy as plain processes bound to a 127.x VIP (no namespaces)."""

from tests.e2e.conftest import Backends
from tests.e2e.harness import ServerHandle, wait_until
from tests.e2e.lbtools import create_lb, lb_body, spread, vip_url, wait_active


def test_process_driver_serves_and_deletes(
    process_server: ServerHandle, backends: Backends
) -> None:
    members = backends.start(process_server)
    with process_server.api() as api:
        lb = create_lb(api, lb_body(members, process_server.member_host))
        assert lb["vip_address"].startswith("127.")
        lb = wait_active(api, lb["id"])
        assert spread(vip_url(lb), 30) == {"b1": 10, "b2": 10, "b3": 10}
        assert api.delete(f"/v2/lbaas/loadbalancers/{lb['id']}?cascade=true").status_code == 204
        wait_until(lambda: api.get(f"/v2/lbaas/loadbalancers/{lb['id']}").status_code == 404)
    appliances = process_server.state_dir / "agent" / "appliances"
    assert not appliances.exists() or list(appliances.iterdir()) == []

    # Provider noop (Octavia's noop driver): the API keeps the objects, nothing runs.
    with process_server.api() as api, process_server.api(project=None) as admin:
        body = lb_body(members, process_server.member_host)
        body["loadbalancer"]["provider"] = "noop"
        noop = wait_active(api, create_lb(api, body)["id"])
        assert noop["provider"] == "noop"
        listed = admin.get("/v2/octavia/amphorae", params={"loadbalancer_id": noop["id"]})
        assert listed.json()["amphorae"] == []
        assert not appliances.exists() or list(appliances.iterdir()) == []
        assert api.delete(f"/v2/lbaas/loadbalancers/{noop['id']}?cascade=true").status_code == 204
        wait_until(lambda: api.get(f"/v2/lbaas/loadbalancers/{noop['id']}").status_code == 404)

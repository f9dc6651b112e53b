"""Issue 4's whole story on a real server (netns driver): a tenant's load balancer has a member
that refuses connections; an operator who knows only the tenant's load balancer id finds it
DEGRADED with the member named (GET /v2/operator/loadbalancers/{id}), has the diagnostics name
the member and the error (POST .../connectivity, from inside the appliance), sees the member go
down on the live event stream (Server-Sent Events), and a webhook receiver, a real HTTP server
in this test, gets the alert signed with the webhook's secret (checked here, independently).
Then Octavia's amphora actions on the real appliance: delete refused, config push applied."""

import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Backends
from tests.e2e.harness import ServerHandle, wait_until
from tests.e2e.lbtools import create_lb, lb_body, pool_members, spread, vip_url, wait_active

pytestmark = pytest.mark.root
Json = dict[str, Any]
MONITOR = {"type": "HTTP", "delay": 1, "timeout": 1, "max_retries": 1, "max_retries_down": 1}
SIGNATURE_TOLERANCE_S = 300


class Receiver:
    """A webhook receiver: every POST's headers and raw body, answered 204."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class EventStream:
    """GET /v2/operator/events/stream read in a thread; the events it sent, in order."""

    def __init__(self, handle: ServerHandle, **filters: str) -> None:
        self.events: list[Json] = []
        self._client = httpx.Client(base_url=handle.url, timeout=httpx.Timeout(10, read=None))
        self._params = {**filters, "heartbeat": "1", "timeout": "120"}
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        try:
            with self._client.stream("GET", "/v2/operator/events/stream", params=self._params) as r:
                assert r.status_code == 200, r.read()
                assert r.headers["content-type"].startswith("text/event-stream")
                self.opened.set()
                for line in r.iter_lines():
                    if line.startswith("data:"):
                        self.events.append(json.loads(line.removeprefix("data:").strip()))
        except (httpx.HTTPError, RuntimeError):
            pass  # closed by __exit__

    def __enter__(self) -> "EventStream":
        self._thread.start()
        assert self.opened.wait(10), "the event stream did not open"
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()
        self._thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def refused_port(host: str) -> int:
    """A port on `host` where nothing listens (connections are refused)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def signed_by(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """`X-Steelyard-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`."""
    fields = dict(part.split("=", 1) for part in headers["x-steelyard-signature"].split(","))
    stamp = int(fields["t"])
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - stamp) <= SIGNATURE_TOLERANCE_S
    return fresh and hmac.compare_digest(expected, fields["v1"])


def test_an_operator_follows_a_tenants_broken_member_from_the_lb_id_to_the_alert(
    netns_server: ServerHandle, backends: Backends, receiver: Receiver
) -> None:
    host = netns_server.member_host
    admin = netns_server.api(project=None)
    tenant = netns_server.api(project="story")
    netns_server.clients += [admin, tenant]
    secret = secrets.token_urlsafe(24)
    hook = admin.post(
        "/v2/operator/webhooks",
        json={"webhook": {"url": receiver.url, "secret": secret, "event_types": ["member.*"]}},
    )
    assert hook.status_code == 201, hook.text

    good = backends.start(netns_server, 1)
    broken_port = refused_port(host)
    body = lb_body(good, host, healthmonitor=MONITOR)
    pool = body["loadbalancer"]["listeners"][0]["default_pool"]
    pool["members"].append({"name": "broken", "address": host, "protocol_port": broken_port})
    with EventStream(netns_server, type="member.operating_status") as stream:
        lb = wait_active(tenant, create_lb(tenant, body)["id"])
        lb_id, pool_id = lb["id"], lb["pools"][0]["id"]
        broken = next(m for m in pool_members(tenant, pool_id) if m["name"] == "broken")

        def broken_status() -> str:
            shown = tenant.get(f"/v2/lbaas/pools/{pool_id}/members/{broken['id']}")
            return str(shown.json()["member"]["operating_status"])

        wait_until(lambda: broken_status() == "ERROR", timeout_s=20)
        assert set(spread(vip_url(lb), 4)) == {"b1"}  # the tenant is still served

        # 1. The operator has only the tenant's id: the operator view says what is wrong.
        endpoint = f"{host}:{broken_port}"
        seen = admin.get(f"/v2/operator/loadbalancers/{lb_id}")
        assert seen.status_code == 200, seen.text
        view: Json = seen.json()["loadbalancer"]
        assert view["project_id"] == "story" and view["provisioning_status"] == "ACTIVE"
        assert view["health"]["status"] == "DEGRADED", view["health"]
        assert f"1 of 2 members is down: {endpoint} (ERROR)" in view["health"]["findings"]
        assert "1 of 1 appliances report heartbeats" in view["health"]["findings"]
        (appliance,) = view["appliances"]
        assert appliance["status"] == "ALLOCATED" and appliance["config_in_sync"] is True
        assert appliance["haproxy_version"].startswith("2.") and appliance["agent_version"]
        assert appliance["lb_network_ip"] == "127.0.0.1" and appliance["cert_expiration"]
        assert appliance["heartbeat_age_s"] is not None and appliance["heartbeat_age_s"] < 5

        # 2. The diagnostics, from inside the appliance, name the member and the error.
        tested = admin.post(f"/v2/operator/loadbalancers/{lb_id}/connectivity")
        assert tested.status_code == 200, tested.text
        connectivity: Json = tested.json()["connectivity"]
        verdicts = [v for v in connectivity["verdicts"] if v["member_id"] == broken["id"]]
        assert verdicts and verdicts[0]["severity"] == "error", connectivity["verdicts"]
        assert endpoint in verdicts[0]["message"] and "refuse" in verdicts[0]["message"]
        (report,) = [a["report"] for a in connectivity["appliances"]]
        (probe,) = [r for r in report["results"] if r["target"]["member_id"] == broken["id"]]
        assert probe["tcp"]["ok"] is False and probe["tcp"]["errno"] == "ECONNREFUSED"

        # 3. The live stream showed the member going down.
        def went_down(event: Json) -> bool:
            details: Json = event["details"]
            return details.get("id") == broken["id"] and details.get("to") == "ERROR"

        down = wait_until(lambda: [e for e in stream.events if went_down(e)], timeout_s=10)
        assert down[0]["loadbalancer_id"] == lb_id and down[0]["severity"] == "warning"
        assert endpoint in down[0]["message"]

    # 4. The webhook receiver got the same alert, signed with the webhook's secret.
    def alert() -> list[tuple[dict[str, str], bytes]]:
        return [
            (headers, raw)
            for headers, raw in receiver.received
            if json.loads(raw)["event"]["id"] == down[0]["id"]
        ]

    ((headers, raw),) = wait_until(alert, timeout_s=15)
    assert headers["x-steelyard-event-type"] == "member.operating_status"
    assert signed_by(secret, headers, raw)
    assert not signed_by(secret + "x", headers, raw)
    assert json.loads(raw)["event"]["details"]["to"] == "ERROR"

    # 5. Octavia's amphora actions on the real appliance: a serving one is not deleted (409);
    # a config push resyncs its load balancer, which settles and serves on.
    amphora = f"/v2/octavia/amphorae/{appliance['id']}"
    assert admin.delete(amphora).status_code == 409
    assert admin.put(amphora + "/config").status_code == 202
    assert (
        tenant.get(f"/v2/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"]["provisioning_status"]
        == "PENDING_UPDATE"
    )
    wait_active(tenant, lb_id)
    assert admin.get(amphora).json()["amphora"]["status"] == "ALLOCATED"
    assert set(spread(vip_url(lb), 4)) == {"b1"}

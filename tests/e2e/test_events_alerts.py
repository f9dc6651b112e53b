"""Events and alerts end to end, on one real server (netns driver): a member's backend dies
behind a real load balancer; the operator's live stream (SSE) shows the member going down,
a webhook receiver (a real HTTP server on 127.0.0.1) gets the signed alert, and a webhook that
always fails ends in the dead-letter list, is announced by an event, and is retried by API."""

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Backends
from tests.e2e.harness import ServerHandle, running_server, wait_until
from tests.e2e.lbtools import create_lb, lb_body, pool_members, wait_active
from tests.support.webhook_receiver import receiving

pytestmark = pytest.mark.root

SECRET = "e2e-webhook-secret-0123"
# Short retries, and webhooks only to loopback (the receivers of this test).
SERVER_ARGS = (
    "--webhook-attempts",
    "3",
    "--webhook-backoff",
    "0.2",
    "--webhook-allow",
    "127.0.0.0/8",
)
MONITOR = {"type": "HTTP", "delay": 1, "timeout": 1, "max_retries": 1, "max_retries_down": 1}
Json = dict[str, Any]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerHandle]:
    with running_server(tmp_path, "netns", SERVER_ARGS) as handle:
        yield handle


def member_down(event: Json) -> bool:
    return bool(event["details"].get("to") == "ERROR")


class StreamReader:
    """Reads the operator's event stream in a thread, keeping each event and when it came,
    until a member goes down (then it hangs up, as a client may at any time)."""

    def __init__(self, handle: ServerHandle, query: str) -> None:
        self.events: list[tuple[float, Json]] = []
        self.opened = threading.Event()
        self._url = f"{handle.url}/v2/operator/events/stream?{query}"
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with httpx.stream("GET", self._url, timeout=httpx.Timeout(10, read=90)) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            self.opened.set()
            for line in response.iter_lines():
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    self.events.append((time.monotonic(), event))
                    if member_down(event):
                        return

    def join(self) -> None:
        self._thread.join(timeout=120)


def test_a_dead_member_is_streamed_and_alerted_and_dead_letters_are_kept(
    server: ServerHandle, backends: Backends
) -> None:
    admin, tenant = server.api(project=None), server.api()
    server.clients += [admin, tenant]
    with receiving(SECRET) as receiver, receiving(SECRET, always_fail=True) as broken:
        hook = admin.post(
            "/v2/operator/webhooks",
            json={"webhook": {"url": receiver.url, "secret": SECRET, "event_types": ["member.*"],
                              "severities": ["warning", "critical"]}},
        )  # fmt: skip
        assert hook.status_code == 201, hook.text
        dead_end = admin.post(
            "/v2/operator/webhooks",
            json={"webhook": {"url": broken.url, "secret": SECRET, "event_types": ["member.*"]}},
        ).json()["webhook"]
        outside = admin.post(
            "/v2/operator/webhooks",
            json={"webhook": {"url": "http://198.18.0.1/", "secret": SECRET}},
        )
        assert outside.status_code == 400, outside.text  # the server's allow list

        members = backends.start(server, 2)
        lb = create_lb(tenant, lb_body(members, server.member_host, healthmonitor=MONITOR))
        lb = wait_active(tenant, lb["id"])
        pool_id = lb["pools"][0]["id"]
        b2 = next(m for m in pool_members(tenant, pool_id) if m["name"] == "b2")
        wait_until(
            lambda: all(m["operating_status"] == "ONLINE" for m in pool_members(tenant, pool_id))
        )

        stream = StreamReader(
            server, f"loadbalancer_id={lb['id']}&type=member.operating_status&timeout=40"
        )
        assert stream.opened.wait(10)
        stopped = time.monotonic()
        members[1].stop()

        def down_event() -> Json | None:
            return next((event for _, event in stream.events if member_down(event)), None)

        event: Json = wait_until(down_event, timeout_s=30)
        streamed_after = next(at for at, e in stream.events if e["id"] == event["id"]) - stopped
        assert event["details"]["address"] == server.member_host
        assert event["details"]["protocol_port"] == b2["protocol_port"]
        assert event["details"]["id"] == b2["id"] and event["severity"] == "warning"
        assert f"{server.member_host}:{b2['protocol_port']}" in event["message"]

        wait_until(lambda: event["id"] in receiver.event_ids(), timeout_s=15)
        signed = [r for r in receiver.received if event["id"].encode() in r.body]
        assert signed and all(r.verified for r in signed)

        # the one that always fails: three attempts, then the dead-letter list and an event
        deliveries = f"/v2/operator/webhooks/{dead_end['id']}/deliveries"

        def dead() -> list[Json]:
            found: list[Json] = admin.get(f"{deliveries}?state=dead").json()["deliveries"]
            return [d for d in found if d["event_id"] == event["id"]]

        (letter,) = wait_until(dead, timeout_s=20)
        assert letter["attempts"] == 3 and letter["last_status_code"] == 500
        announced = admin.get("/v2/operator/events", params={"type": "webhook.dead_letter"})
        assert any(e["details"]["delivery_id"] == letter["id"] for e in announced.json()["events"])
        broken.always_fail = False
        retried = admin.post(f"{deliveries}/{letter['id']}/retry")
        assert retried.status_code == 202, retried.text
        wait_until(lambda: event["id"] in broken.event_ids(), timeout_s=15)

        # the tenant sees its member's event too, without operator-only details
        own = tenant.get(f"/v2/lbaas/loadbalancers/{lb['id']}/events").json()["events"]
        assert any(e["id"] == event["id"] and "operator_details" not in e for e in own)
        stream.join()
    print(f"member down -> streamed event: {streamed_after:.2f} s")  # figure for the README

"""L7 policies end to end: tenant API -> reconciler -> agent -> HAProxy in a namespace, and real
requests through the VIP to two pools whose backends answer with their names.

One load balancer carries every case at once (each case matches only its own requests), so the
whole matrix costs one apply; a second apply moves a policy and flips a rule's `invert`.
"""

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from steelyard.cli.backends import NamedBackend
from tests.e2e.conftest import Backends
from tests.e2e.harness import ServerHandle
from tests.e2e.lbtools import create_lb, vip_url, wait_active

pytestmark = pytest.mark.root

HOSTILE = "it's\"#${HOME}\\{x}"


@dataclass(frozen=True)
class Case:
    """A rule sending matching requests to the "api" pool; `hit` matches, `miss` does not."""

    type: str
    compare: str
    value: str
    hit: dict[str, Any]
    miss: dict[str, Any]
    key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def rule(self) -> dict[str, Any]:
        rule = {"type": self.type, "compare_type": self.compare, "value": self.value}
        return {**rule, "key": self.key} if self.key else rule


def path(text: str) -> dict[str, Any]:
    return {"path": text}


def host(text: str) -> dict[str, Any]:
    return {"headers": {"Host": text}}


def header(name: str, text: str) -> dict[str, Any]:
    return {"headers": {name: text}}


def cookie(name: str, text: str) -> dict[str, Any]:
    return {"headers": {"Cookie": f"other=1; {name}={text}"}}


CASES = [
    Case("HOST_NAME", "EQUAL_TO", "heq.example", host("HEQ.example"), host("heq.example.org")),
    Case("HOST_NAME", "STARTS_WITH", "hs-", host("hs-a.example"), host("a.hs-.example")),
    Case("HOST_NAME", "ENDS_WITH", ".he.example", host("a.he.example"), host("a.he.example.x")),
    Case("HOST_NAME", "CONTAINS", "hc-mid", host("a.hc-mid.b"), host("a.hc-mi.b")),
    Case("HOST_NAME", "REGEX", r"^hr[0-9]+\.example$", host("hr42.example"), host("hrx.example")),
    Case("PATH", "EQUAL_TO", "/p-equal", path("/p-equal"), path("/p-equal/")),
    Case("PATH", "STARTS_WITH", "/p-starts/", path("/p-starts/x"), path("/x/p-starts/")),
    Case("PATH", "ENDS_WITH", "/p-ends", path("/a/p-ends"), path("/p-ends/a")),
    Case("PATH", "CONTAINS", "/p-contains/", path("/a/p-contains/b"), path("/p-contain/")),
    Case("PATH", "REGEX", r"^/p-regex/[0-9]+$", path("/p-regex/12"), path("/p-regex/ab")),
    Case("FILE_TYPE", "EQUAL_TO", "l7ft", path("/img/a.l7ft"), path("/img/a.l7ftx")),
    Case("FILE_TYPE", "REGEX", r"\.l7r(x|y)$", path("/a.l7ry"), path("/a.l7rz")),
    Case("HEADER", "EQUAL_TO", HOSTILE, header("X-H1", HOSTILE), header("X-H1", "it's"), "X-H1"),
    Case("HEADER", "STARTS_WITH", "-f", header("X-H2", "-f /x"), header("X-H2", "x-f"), "X-H2"),
    Case(
        "HEADER", "ENDS_WITH", "-beta", header("X-H3", "v2-beta"), header("X-H3", "-betax"), "X-H3"
    ),
    Case("HEADER", "CONTAINS", "%20", header("X-H4", "a%20b"), header("X-H4", "a b"), "X-H4"),
    Case(
        "HEADER", "REGEX", r"^v[0-9]\.[0-9]$", header("X-H5", "v1.2"), header("X-H5", "v12"), "X-H5"
    ),
    Case("COOKIE", "EQUAL_TO", "b", cookie("c1", "b"), cookie("c1", "bb"), "c1"),
    Case("COOKIE", "STARTS_WITH", "t-", cookie("c2", "t-1"), cookie("c2", "x-t-1"), "c2"),
    Case("COOKIE", "ENDS_WITH", "-adm", cookie("c3", "x-adm"), cookie("c3", "-admx"), "c3"),
    Case("COOKIE", "CONTAINS", "canary", cookie("c4", "acanaryb"), cookie("c4", "canar"), "c4"),
    Case("COOKIE", "REGEX", r"^[a-f0-9]{4}$", cookie("c5", "beef"), cookie("c5", "beefy"), "c5"),
]


def policies() -> list[dict[str, Any]]:
    to_api: dict[str, Any] = {"action": "REDIRECT_TO_POOL", "redirect_pool": {"name": "api"}}
    found: list[dict[str, Any]] = [
        {**to_api, "name": f"{c.type}-{c.compare}", "rules": [c.rule()]} for c in CASES
    ]
    found += [
        {
            **to_api,
            "name": "inverted",
            "rules": [
                {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/inv/"},
                {"type": "HEADER", "compare_type": "EQUAL_TO", "key": "X-Inv", "value": "skip"}
                | {"invert": True},
            ],
        },
        {
            "action": "REJECT",
            "name": "reject",
            "rules": [{"type": "PATH", "compare_type": "STARTS_WITH", "value": "/reject"}],
        },
        {
            "action": "REDIRECT_TO_URL",
            "name": "to-url",
            "redirect_url": "https://new.example.com/landing?x=1&y=%41",
            "redirect_http_code": 301,
            "rules": [{"type": "PATH", "compare_type": "EQUAL_TO", "value": "/old"}],
        },
        {
            "action": "REDIRECT_PREFIX",
            "name": "prefix",
            "redirect_prefix": "https://moved.example.com",
            "redirect_http_code": 308,
            "rules": [{"type": "PATH", "compare_type": "STARTS_WITH", "value": "/moved/"}],
        },
        {"action": "REDIRECT_TO_URL", "name": "default-code", "redirect_url": "http://d.example/"}
        | {"rules": [{"type": "PATH", "compare_type": "EQUAL_TO", "value": "/code"}]},
        {**to_api, "name": "order-pool", "rules": [order_rule()]},
        {"action": "REJECT", "name": "order-reject", "rules": [order_rule()]},
    ]
    return found


def order_rule() -> dict[str, Any]:
    return {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/order"}


def lb_with_policies(web: NamedBackend, api: NamedBackend, member_host: str) -> dict[str, Any]:
    def pool(name: str, backend: NamedBackend) -> dict[str, Any]:
        member = {"address": member_host, "protocol_port": backend.port}
        return {
            "name": name,
            "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN",
            "members": [member],
        }

    listener = {
        "protocol": "HTTP",
        "protocol_port": 80,
        "default_pool": {"name": "web"},
        "l7policies": policies(),
    }
    body = {"name": "l7", "listeners": [listener], "pools": [pool("web", web), pool("api", api)]}
    return {"loadbalancer": body}


def send(url: str, request: dict[str, Any]) -> httpx.Response:
    headers = {"Connection": "close", **request.get("headers", {})}
    return httpx.get(url.rstrip("/") + request.get("path", "/"), headers=headers, timeout=5)


def served_by(url: str, request: dict[str, Any]) -> str:
    response = send(url, request)
    return str(response.headers.get("X-Backend", f"HTTP {response.status_code}"))


def test_every_rule_type_and_compare_type_routes_real_requests(
    netns_server: ServerHandle, backends: Backends
) -> None:
    web = backends.add(NamedBackend("web", netns_server.member_host))
    api_backend = backends.add(NamedBackend("api", netns_server.member_host))
    with netns_server.api() as api:
        lb = create_lb(api, lb_with_policies(web, api_backend, netns_server.member_host))
        lb = wait_active(api, lb["id"], timeout_s=60)
        url = vip_url(lb)
        by_name = {p["name"]: p for p in api.get("/v2/lbaas/l7policies").json()["l7policies"]}
        assert all(p["provisioning_status"] == "ACTIVE" for p in by_name.values())
        assert all(p["operating_status"] == "ONLINE" for p in by_name.values())

        assert served_by(url, {}) == "web"
        wrong = [
            (case.type, case.compare, which)
            for case in CASES
            for which, request, expected in (("hit", case.hit, "api"), ("miss", case.miss, "web"))
            if served_by(url, request) != expected
        ]
        assert wrong == []

        assert served_by(url, path("/inv/x")) == "api"
        assert served_by(url, {"path": "/inv/x", "headers": {"X-Inv": "skip"}}) == "web"
        assert send(url, path("/reject/me")).status_code == 403
        to_url = send(url, path("/old"))
        assert (to_url.status_code, to_url.headers["Location"]) == (
            301,
            "https://new.example.com/landing?x=1&y=%41",
        )
        prefix = send(url, path("/moved/a/b?q=1"))
        assert (prefix.status_code, prefix.headers["Location"]) == (
            308,
            "https://moved.example.com/moved/a/b?q=1",
        )
        assert send(url, path("/code")).status_code == 302  # Octavia's default
        assert served_by(url, path("/order/1")) == "api"  # the pool policy comes first

        # Move the REJECT before the pool policy, and flip one rule.
        api.put(
            f"/v2/lbaas/l7policies/{by_name['order-reject']['id']}",
            json={"l7policy": {"position": 1}},
        ).raise_for_status()
        flipped = by_name["HEADER-EQUAL_TO"]
        rule_id = flipped["rules"][0]["id"]
        api.put(
            f"/v2/lbaas/l7policies/{flipped['id']}/rules/{rule_id}",
            json={"rule": {"invert": True}},
        ).raise_for_status()
        wait_active(api, lb["id"])
        assert send(url, path("/order/1")).status_code == 403
        assert served_by(url, header("X-H1", HOSTILE)) == "web"
        assert served_by(url, header("X-H1", "anything else")) == "api"

"""Every endpoint x {no token, reader, member, admin, another project's member}, under
`--auth keys` with real API keys, against the in-process app (the same app `steelyard serve`
runs, without the network hop: ~500 requests in seconds instead of minutes).

One row per endpoint: method, route, body, and the five expected statuses. The route's path
parameters are filled with the owner's objects, made through the API: shared ones for reads,
fresh ones for each caller of a write (so that one caller's delete does not change what the
next one sees). A route of the app without a row fails `test_every_endpoint_has_a_row`.
"""

import re
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from steelyard.api.app import create_app
from steelyard.api.settings import ApiSettings
from steelyard.db.apikeys import create_api_key
from steelyard.db.appliances import add_appliance
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.events import record_event
from steelyard.db.hosts import sync_hosts
from steelyard.db.models import Host, WebhookDelivery
from steelyard.db.networks import ensure_default_network
from steelyard.model.repair import HostDeclaration
from tests.support.certs import TestCA

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

OWNER, STRANGER, OPS = "p-owner", "p-stranger", "p-ops"
NOW = datetime(2026, 11, 26)
CALLERS = ("anonymous", "reader", "member", "admin", "stranger")
Json = dict[str, Any]
Expect = tuple[int, int, int, int, int]  # in CALLERS order

LIST: Expect = (401, 200, 200, 200, 200)  # a stranger sees an empty list
READ_OWN: Expect = (401, 200, 200, 200, 404)  # another project's object does not exist for you
CREATE_OWN: Expect = (401, 403, 201, 201, 404)  # a child of the owner's object
CREATE_ANY: Expect = (401, 403, 201, 201, 201)
UPDATE_OWN: Expect = (401, 403, 200, 200, 404)
DELETE_OWN: Expect = (401, 403, 204, 204, 404)
CATALOGUE: Expect = (401, 200, 200, 200, 200)
ADMIN: Expect = (401, 403, 403, 200, 403)
ADMIN_CREATE: Expect = (401, 403, 403, 201, 403)
ADMIN_ACCEPTED: Expect = (401, 403, 403, 202, 403)
ADMIN_DELETE: Expect = (401, 403, 403, 204, 403)
FORBIDDEN_TO_OTHERS: Expect = (401, 200, 200, 200, 403)  # quotas, as in Octavia
UNAVAILABLE: Expect = (401, 403, 403, 503, 403)  # an operator service this app does not offer

L7RULE = {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}
FLAVORPROFILE = {"name": "fp", "provider_name": "appliance", "flavor_data": "{}"}
AZPROFILE = {"name": "azp", "provider_name": "appliance", "availability_zone_data": "{}"}
MONITOR = {"type": "TCP", "delay": 5, "timeout": 3, "max_retries": 3}
MEMBER = {"address": "192.0.2.11", "protocol_port": 80}
WEBHOOK = {"url": "http://127.0.0.1:9/alerts", "secret": "s3cret-s3cret-s3cret"}
SECRET = {"pem": TestCA().cert_pem}  # a CA secret: the quickest upload that is valid


@dataclass
class World:
    """The owner's objects and the catalogue, made through the API itself."""

    owner: TestClient
    admin: TestClient
    sessions: sessionmaker[Session]
    shared: dict[str, dict[str, str]] = field(default_factory=dict)
    subnets: int = 0

    def _post(self, via: TestClient, path: str, key: str, body: Json) -> str:
        response = via.post(path, json={key: body})
        assert response.status_code == 201, response.text
        return str(response.json()[key].get("id") or response.json()[key]["name"])

    def lb(self) -> str:
        return self._post(self.owner, "/v2/lbaas/loadbalancers", "loadbalancer", {"name": "m"})

    def listener(self) -> str:
        body = {"loadbalancer_id": self.lb(), "protocol": "HTTP", "protocol_port": 80}
        return self._post(self.owner, "/v2/lbaas/listeners", "listener", body)

    def pool(self) -> str:
        body = {"listener_id": self.listener(), "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}
        return self._post(self.owner, "/v2/lbaas/pools", "pool", body)

    def member(self, pool: str) -> str:
        body = {"address": "192.0.2.10", "protocol_port": 8080}
        return self._post(self.owner, f"/v2/lbaas/pools/{pool}/members", "member", body)

    def healthmonitor(self) -> str:
        body = {"pool_id": self.pool(), **MONITOR}
        return self._post(self.owner, "/v2/lbaas/healthmonitors", "healthmonitor", body)

    def l7policy(self) -> str:
        body = {"listener_id": self.listener(), "action": "REJECT"}
        return self._post(self.owner, "/v2/lbaas/l7policies", "l7policy", body)

    def l7rule(self, policy: str) -> str:
        return self._post(self.owner, f"/v2/lbaas/l7policies/{policy}/rules", "rule", L7RULE)

    def flavorprofile(self) -> str:
        return self._post(self.admin, "/v2/lbaas/flavorprofiles", "flavorprofile", FLAVORPROFILE)

    def flavor(self) -> str:
        body = {"name": f"f{uuid.uuid4().hex[:8]}", "flavor_profile_id": self.flavorprofile()}
        return self._post(self.admin, "/v2/lbaas/flavors", "flavor", body)

    def azprofile(self) -> str:
        path, key = "/v2/lbaas/availabilityzoneprofiles", "availability_zone_profile"
        return self._post(self.admin, path, key, AZPROFILE)

    def zone(self) -> str:
        body = {
            "name": f"z{uuid.uuid4().hex[:8]}",
            "availability_zone_profile_id": self.azprofile(),
        }
        return self._post(self.admin, "/v2/lbaas/availabilityzones", "availability_zone", body)

    def network(self) -> str:
        body = {"name": f"n{uuid.uuid4().hex[:8]}", "kind": "loopback"}
        return self._post(self.admin, "/v2/steelyard/networks", "network", body)

    def subnet(self) -> str:
        self.subnets += 1
        body = {"network_id": self.network(), "cidr": f"198.19.{self.subnets}.0/24"}
        return self._post(self.admin, "/v2/steelyard/subnets", "subnet", body)

    def secret(self) -> str:
        return self._post(self.owner, "/v2/steelyard/secrets", "secret", SECRET)

    def amphora(self) -> str:
        lb, ident = self.lb(), str(uuid.uuid4())
        with self.sessions.begin() as session:
            row = add_appliance(
                session, new_id=ident, name=f"{lb[:12]}-0", lb_id=lb, slot=0, role="SINGLE",
                host="h1", compute_driver="process", zone=None, now=datetime(2026, 1, 1),
            )  # fmt: skip
            row.status = "ALLOCATED"
        return ident

    def webhook(self) -> str:
        return self._post(self.admin, OP + "/webhooks", "webhook", WEBHOOK)

    def delivery(self) -> dict[str, str]:
        """A dead delivery of a fresh webhook (what an operator retries)."""
        hook = self.webhook()
        with self.sessions.begin() as session:
            event = record_event(
                session, type="loadbalancer.deleted", severity="info", message="m",
                now=datetime(2026, 1, 1),
            )  # fmt: skip
            row = session.scalars(
                select(WebhookDelivery).where(
                    WebhookDelivery.event_id == event, WebhookDelivery.webhook_id == hook
                )
            ).one()
            row.state, ident = "dead", row.id
        return {"webhook_id": hook, "delivery_id": ident}

    def host(self) -> str:
        """A fresh host, and another one that takes appliances (a drain needs one)."""
        name = f"h{uuid.uuid4().hex[:8]}"
        with self.sessions.begin() as session:
            known = [HostDeclaration(h) for h in session.scalars(select(Host.name))]
            sync_hosts(session, [*known, HostDeclaration(name), HostDeclaration("h-other")], NOW)
        return name

    def params(self, route: str, fresh: bool) -> dict[str, str]:
        """Values for the route's path parameters: the collection before its last parameter
        says which object (and its parents) to make."""
        found = re.search(r"/([a-z0-9_]+)/\{[a-z0-9_]+\}(?!.*\{)", route)
        if found is None:
            return {}
        collection = found.group(1)
        if not fresh and collection in self.shared:
            return self.shared[collection]
        made = self._make(collection)
        if not fresh:
            self.shared[collection] = made
        return made

    def _make(self, collection: str) -> dict[str, str]:
        if collection == "members":
            pool = self.pool()
            return {"pool_id": pool, "member_id": self.member(pool)}
        if collection == "deliveries":
            return self.delivery()
        if collection == "rules":
            policy = self.l7policy()
            return {"l7policy_id": policy, "l7rule_id": self.l7rule(policy)}
        makers: dict[str, tuple[str, Callable[[], str]]] = {
            "loadbalancers": ("lb_id", self.lb),
            "listeners": ("listener_id", self.listener),
            "pools": ("pool_id", self.pool),
            "healthmonitors": ("hm_id", self.healthmonitor),
            "l7policies": ("l7policy_id", self.l7policy),
            "flavors": ("flavor_id", self.flavor),
            "flavorprofiles": ("ident", self.flavorprofile),
            "availabilityzones": ("name", self.zone),
            "availabilityzoneprofiles": ("ident", self.azprofile),
            "networks": ("ident", self.network),
            "subnets": ("ident", self.subnet),
            "amphorae": ("amphora_id", self.amphora),
            "webhooks": ("webhook_id", self.webhook),
            "appliances": ("appliance_id", self.amphora),
            "secrets": ("secret_id", self.secret),
            "quotas": ("project_id", lambda: OWNER),
            "projects": ("project_id", lambda: OWNER),
            "providers": ("provider_name", lambda: "appliance"),
            "hosts": ("name", self.host),  # issue 4 (repair)
        }
        name, make = makers[collection]
        return {name: make()}


Body = Json | Callable[[World], Json] | None


@dataclass(frozen=True)
class Row:
    method: str
    route: str  # the route's path template, as the app declares it
    expect: Expect
    body: Body = None
    query: str = ""  # after the path: a stream that ends at once


LBS, LISTENERS, POOLS = "/v2/lbaas/loadbalancers", "/v2/lbaas/listeners", "/v2/lbaas/pools"
HMS, L7P = "/v2/lbaas/healthmonitors", "/v2/lbaas/l7policies"
FLAVORS, FPS = "/v2/lbaas/flavors", "/v2/lbaas/flavorprofiles"
AZS, AZPS = "/v2/lbaas/availabilityzones", "/v2/lbaas/availabilityzoneprofiles"
QUOTAS, PROVIDERS, AMPS = "/v2/lbaas/quotas", "/v2/lbaas/providers", "/v2/octavia/amphorae"
NETS, SUBNETS, OP = "/v2/steelyard/networks", "/v2/steelyard/subnets", "/v2/operator"
SECRETS = "/v2/steelyard/secrets"
MEMBERS, RULES = POOLS + "/{pool_id}/members", L7P + "/{l7policy_id}/rules"


def _tenant(
    collection: str, item: str, key: str, create: Body, update: Json, created: Expect = CREATE_OWN
) -> list[Row]:
    """The five endpoints of a tenant object (listed under a parent: a stranger's 404)."""
    listed = LIST if collection.count("{") == 0 else READ_OWN
    return [
        Row("GET", collection, listed),
        Row("POST", collection, created, create),
        Row("GET", f"{collection}/{{{item}}}", READ_OWN),
        Row("PUT", f"{collection}/{{{item}}}", UPDATE_OWN, {key: update}),
        Row("DELETE", f"{collection}/{{{item}}}", DELETE_OWN),
    ]


def _catalogue(
    collection: str, item: str, key: str, create: Body, update: Json, read: Expect = CATALOGUE
) -> list[Row]:
    """The five endpoints of a deployment-wide object: everyone (or only admins) reads it."""
    return [
        Row("GET", collection, read),
        Row("POST", collection, ADMIN_CREATE, create),
        Row("GET", f"{collection}/{{{item}}}", read),
        Row("PUT", f"{collection}/{{{item}}}", ADMIN, {key: update}),
        Row("DELETE", f"{collection}/{{{item}}}", ADMIN_DELETE),
    ]


def _new_listener(w: World) -> Json:
    return {"listener": {"loadbalancer_id": w.lb(), "protocol": "TCP", "protocol_port": 81}}


def _new_pool(w: World) -> Json:
    return {"pool": {"loadbalancer_id": w.lb(), "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}}


def _new_monitor(w: World) -> Json:
    return {"healthmonitor": {"pool_id": w.pool(), **MONITOR}}


def _new_l7policy(w: World) -> Json:
    return {"l7policy": {"listener_id": w.listener(), "action": "REJECT"}}


def _new_flavor(w: World) -> Json:
    return {"flavor": {"name": "f", "flavor_profile_id": w.flavorprofile()}}


def _new_zone(w: World) -> Json:
    zone = {"name": f"z{uuid.uuid4().hex[:6]}", "availability_zone_profile_id": w.azprofile()}
    return {"availability_zone": zone}


def _new_subnet(w: World) -> Json:
    return {"subnet": {"network_id": w.network(), "cidr": "198.18.200.0/24"}}


NEUTRON = ("/v2/networks", "/v2/networks/{ident}", "/v2/subnets", "/v2/subnets/{ident}")
ROWS = [
    *_tenant(LBS, "lb_id", "loadbalancer", {"loadbalancer": {}}, {"name": "y"}, CREATE_ANY),
    Row("GET", LBS + "/{lb_id}/status", READ_OWN),
    Row("GET", LBS + "/{lb_id}/stats", READ_OWN),
    Row("GET", LBS + "/{lb_id}/events", READ_OWN),
    Row("GET", LBS + "/{lb_id}/logs", READ_OWN),
    Row("PUT", LBS + "/{lb_id}/failover", ADMIN_ACCEPTED),
    *_tenant(LISTENERS, "listener_id", "listener", _new_listener, {"name": "y"}),
    Row("GET", LISTENERS + "/{listener_id}/stats", READ_OWN),
    *_tenant(POOLS, "pool_id", "pool", _new_pool, {"name": "y"}),
    *_tenant(MEMBERS, "member_id", "member", {"member": MEMBER}, {"weight": 3}),
    Row("PUT", MEMBERS, (401, 403, 202, 202, 404), {"members": []}),
    *_tenant(HMS, "hm_id", "healthmonitor", _new_monitor, {"delay": 7}),
    *_tenant(L7P, "l7policy_id", "l7policy", _new_l7policy, {"name": "y"}),
    *_tenant(RULES, "l7rule_id", "rule", {"rule": L7RULE}, {"value": "/v2"}),
    Row("GET", QUOTAS, LIST),
    Row("GET", QUOTAS + "/defaults", CATALOGUE),
    Row("GET", QUOTAS + "/{project_id}", FORBIDDEN_TO_OTHERS),
    Row("GET", QUOTAS + "/{project_id}/default", FORBIDDEN_TO_OTHERS),
    Row("PUT", QUOTAS + "/{project_id}", ADMIN_ACCEPTED, {"quota": {"loadbalancer": 1000}}),
    Row("DELETE", QUOTAS + "/{project_id}", ADMIN_DELETE),
    Row("GET", PROVIDERS, CATALOGUE),
    Row("GET", PROVIDERS + "/{provider_name}/flavor_capabilities", ADMIN),
    Row("GET", PROVIDERS + "/{provider_name}/availability_zone_capabilities", ADMIN),
    *_catalogue(FLAVORS, "flavor_id", "flavor", _new_flavor, {"description": "d"}),
    *_catalogue(
        FPS, "ident", "flavorprofile", {"flavorprofile": FLAVORPROFILE}, {"name": "y"}, ADMIN
    ),
    *_catalogue(AZS, "name", "availability_zone", _new_zone, {"description": "d"}),
    *_catalogue(
        AZPS,
        "ident",
        "availability_zone_profile",
        {"availability_zone_profile": AZPROFILE},
        {"name": "y"},
        ADMIN,
    ),
    Row("GET", NETS, CATALOGUE),
    Row("POST", NETS, ADMIN_CREATE, {"network": {"name": "n", "kind": "loopback"}}),
    Row("GET", NETS + "/{ident}", CATALOGUE),
    Row("DELETE", NETS + "/{ident}", ADMIN_DELETE),
    Row("GET", SUBNETS, CATALOGUE),
    Row("POST", SUBNETS, ADMIN_CREATE, _new_subnet),
    Row("GET", SUBNETS + "/{ident}", CATALOGUE),
    Row("DELETE", SUBNETS + "/{ident}", ADMIN_DELETE),
    *(Row("GET", path, CATALOGUE) for path in NEUTRON),  # the openstack CLI's look-ups
    Row("GET", "/projects", LIST),
    Row("GET", "/projects/{project_id}", READ_OWN),
    *_tenant(SECRETS, "secret_id", "secret", {"secret": SECRET}, {"name": "y"}, CREATE_ANY),
    # the operator API, amphorae and metrics: admins only
    Row("GET", OP + "/protection/defaults", ADMIN),
    Row("GET", OP + "/usage", ADMIN),
    Row("PUT", OP + "/protection/defaults", ADMIN, {"protection": {}}),
    Row("GET", OP + "/loadbalancers/{lb_id}/protection", ADMIN),
    Row("PUT", OP + "/loadbalancers/{lb_id}/protection", ADMIN, {"protection": {}}),
    Row("DELETE", OP + "/loadbalancers/{lb_id}/protection", ADMIN),
    Row("PUT", OP + "/loadbalancers/{lb_id}/under_attack", ADMIN, {"under_attack": True}),
    Row("GET", OP + "/events", ADMIN),
    Row("GET", OP + "/events/stream", ADMIN, query="?timeout=0"),
    # repair and hosts
    Row("POST", OP + "/loadbalancers/{lb_id}/failover", ADMIN_ACCEPTED),
    Row("POST", OP + "/loadbalancers/{lb_id}/resync", ADMIN_ACCEPTED),
    Row(
        "POST", OP + "/loadbalancers/{lb_id}/migrate", ADMIN_ACCEPTED, lambda w: {"host": w.host()}
    ),
    Row(
        "POST",
        OP + "/loadbalancers/{lb_id}/resize",
        ADMIN_ACCEPTED,
        lambda w: {"flavor_id": w.flavor()},
    ),
    Row("GET", OP + "/hosts", ADMIN),
    Row("GET", OP + "/hosts/{name}", ADMIN),
    Row("POST", OP + "/hosts/{name}/drain", ADMIN_ACCEPTED),
    Row("POST", OP + "/hosts/{name}/undrain", (401, 403, 403, 409, 403)),  # not draining
    Row("GET", OP + "/webhooks", ADMIN),
    Row("POST", OP + "/webhooks", ADMIN_CREATE, {"webhook": WEBHOOK}),
    Row("GET", OP + "/webhooks/{webhook_id}", ADMIN),
    Row("PUT", OP + "/webhooks/{webhook_id}", ADMIN, {"webhook": {"enabled": False}}),
    Row("DELETE", OP + "/webhooks/{webhook_id}", ADMIN_DELETE),
    Row("GET", OP + "/webhooks/{webhook_id}/deliveries", ADMIN),
    Row("POST", OP + "/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", ADMIN_ACCEPTED),
    Row("GET", OP + "/loadbalancers", ADMIN),
    Row("GET", OP + "/loadbalancers/{lb_id}", ADMIN),
    Row("GET", OP + "/appliances", ADMIN),
    Row("GET", OP + "/health", ADMIN),
    Row("GET", OP + "/loadbalancers/{lb_id}/logs", ADMIN),
    Row("GET", OP + "/logs", ADMIN),
    Row("DELETE", OP + "/health/circuit_breaker", (401, 403, 403, 409, 403)),  # not tripped
    # diagnostics: this app reaches no agent (no Services.diagnostics), so admins get 503
    Row("GET", OP + "/loadbalancers/{lb_id}/diagnostics", UNAVAILABLE),
    Row("GET", OP + "/appliances/{appliance_id}/diagnostics", UNAVAILABLE),
    Row("POST", OP + "/loadbalancers/{lb_id}/connectivity", UNAVAILABLE),
    Row("GET", AMPS, ADMIN),
    Row("GET", AMPS + "/{amphora_id}", ADMIN),
    Row("GET", AMPS + "/{amphora_id}/stats", ADMIN),
    Row("PUT", AMPS + "/{amphora_id}/failover", ADMIN_ACCEPTED),
    Row("PUT", AMPS + "/{amphora_id}/config", ADMIN_ACCEPTED),
    Row("DELETE", AMPS + "/{amphora_id}", (401, 403, 403, 409, 403)),  # it serves: Octavia's 409
    Row("GET", "/metrics", ADMIN),
]


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, migrated: Path
) -> Iterator[tuple[World, dict[str, TestClient]]]:
    state = tmp_path_factory.mktemp("rbac")
    shutil.copyfile(migrated, state / "steelyard.db")
    engine = make_engine(sqlite_url(state))
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        ensure_default_network(
            session, name="public", cidr="198.18.0.0/24", kind="loopback", bridge=None
        )
        keys = {
            "reader": create_api_key(session, OWNER, "reader"),
            "member": create_api_key(session, OWNER, "member"),
            "admin": create_api_key(session, OPS, "admin"),
            "stranger": create_api_key(session, STRANGER, "member"),
        }
    app = create_app(ApiSettings(auth="keys", secrets_key=bytes(32)), sessions, lambda _: None)
    clients = {caller: TestClient(app) for caller in CALLERS}
    for caller, key in keys.items():
        clients[caller].headers["X-Auth-Token"] = key
    yield World(clients["member"], clients["admin"], sessions), clients
    for client in clients.values():
        client.close()
    engine.dispose()


@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{row.method} {row.route}")
def test_endpoint_by_caller(row: Row, world: tuple[World, dict[str, TestClient]]) -> None:
    state, clients = world
    got: dict[str, int] = {}
    for caller in CALLERS:
        path = row.route.format(**state.params(row.route, fresh=row.method != "GET"))
        path += row.query
        body = row.body(state) if callable(row.body) else row.body
        response = clients[caller].request(row.method, path, json=body)
        got[caller] = response.status_code
        assert response.headers["x-openstack-request-id"].startswith("req-")
        if response.status_code >= 400:
            fault = response.json()
            kind = "Server" if response.status_code >= 500 else "Client"
            assert fault["faultcode"] == kind and fault["faultstring"], (caller, fault)
        if caller == "stranger" and row.method == "GET" and response.status_code == 200:
            assert OWNER not in response.text, "another project's objects leaked into a list"
    assert got == dict(zip(CALLERS, row.expect, strict=True))


def test_every_endpoint_has_a_row(world: tuple[World, dict[str, TestClient]]) -> None:
    app = world[1]["admin"].app
    routes = {
        (method, context.path_format)
        for context in iter_route_contexts(app.routes)  # type: ignore[attr-defined]
        if isinstance(context.original_route, APIRoute)
        and context.path_format
        and not context.path_format.startswith("/v2.0")
        for method in context.original_route.methods or ()
    }
    public = {("GET", "/"), ("GET", "/v2")}
    assert routes - public - {(row.method, row.route) for row in ROWS} == set()

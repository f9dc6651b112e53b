"""Which rule guards which endpoint, and that an app with an unguarded route does not start."""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI

from steelyard.api.policy import PolicyError, compile_rules, load_policy
from steelyard.api.policy_defaults import DEFAULT_RULES, default_policy
from steelyard.api.policy_routes import PUBLIC, route_rules, rule_for

LB = "os_load-balancer_api:loadbalancer"
LBS = "/v2/lbaas/loadbalancers"

ROUTES: list[tuple[str, str, str | None]] = [
    ("GET", "/", PUBLIC),
    ("GET", "/v2", PUBLIC),
    ("GET", "/v2.0", PUBLIC),
    ("GET", "/v2/lbaas/loadbalancers", f"{LB}:get_all"),
    ("POST", "/v2.0/lbaas/loadbalancers", f"{LB}:post"),
    ("GET", "/v2/lbaas/loadbalancers/{lb_id}", f"{LB}:get_one"),
    ("PUT", "/v2/lbaas/loadbalancers/{lb_id}", f"{LB}:put"),
    ("DELETE", "/v2/lbaas/loadbalancers/{lb_id}", f"{LB}:delete"),
    ("GET", "/v2/lbaas/loadbalancers/{lb_id}/stats", f"{LB}:get_stats"),
    ("GET", "/v2/lbaas/loadbalancers/{lb_id}/status", f"{LB}:get_status"),
    ("PUT", "/v2/lbaas/loadbalancers/{lb_id}/failover", f"{LB}:put_failover"),
    ("GET", "/v2/lbaas/loadbalancers/{lb_id}/events", "steelyard:loadbalancer:get_events"),
    ("GET", "/v2/lbaas/listeners/{id}/stats", "os_load-balancer_api:listener:get_stats"),
    ("GET", "/v2/lbaas/pools/{pool_id}", "os_load-balancer_api:pool:get_one"),
    ("GET", "/v2/lbaas/pools/{pool_id}/members", "os_load-balancer_api:member:get_all"),
    ("PUT", "/v2/lbaas/pools/{pool_id}/members", "os_load-balancer_api:member:put"),
    ("DELETE", "/v2/lbaas/pools/{p}/members/{m}", "os_load-balancer_api:member:delete"),
    ("POST", "/v2/lbaas/l7policies/{id}/rules", "os_load-balancer_api:l7rule:post"),
    ("PUT", "/v2/lbaas/l7policies/{id}/rules/{rule_id}", "os_load-balancer_api:l7rule:put"),
    ("GET", "/v2/lbaas/quotas", "os_load-balancer_api:quota:get_all"),
    ("GET", "/v2/lbaas/quotas/defaults", "os_load-balancer_api:quota:get_defaults"),
    ("GET", "/v2/lbaas/quotas/{project_id}/default", "os_load-balancer_api:quota:get_defaults"),
    ("PUT", "/v2/lbaas/quotas/{project_id}", "os_load-balancer_api:quota:put"),
    ("GET", "/v2/lbaas/providers", "os_load-balancer_api:provider:get_all"),
    (
        "GET",
        "/v2/lbaas/providers/{provider}/flavor_capabilities",
        "os_load-balancer_api:provider-flavor:get_all",
    ),
    ("POST", "/v2/lbaas/flavorprofiles", "os_load-balancer_api:flavor-profile:post"),
    ("GET", "/v2/lbaas/availabilityzones/{name}", "os_load-balancer_api:availability-zone:get_one"),
    ("PUT", "/v2/octavia/amphorae/{id}/failover", "os_load-balancer_api:amphora:put_failover"),
    ("GET", "/v2/steelyard/networks", "steelyard:network:get_all"),
    ("DELETE", "/v2/steelyard/subnets/{ident}", "steelyard:subnet:delete"),
    ("GET", "/v2.0/subnets", "steelyard:subnet:get_all"),
    ("GET", "/v2/operator/events", "steelyard:operator"),
    ("PUT", "/v2/operator/loadbalancers/{lb_id}/under_attack", "steelyard:operator"),
    ("GET", "/metrics", "steelyard:metrics:get_all"),
]


@pytest.mark.parametrize(("method", "path", "rule"), ROUTES)
def test_rule_of_each_endpoint(method: str, path: str, rule: str | None) -> None:
    assert rule_for(method, path) == rule
    assert rule is None or rule in DEFAULT_RULES


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/lbaas/unknown"),
        ("POST", "/v2/lbaas/loadbalancers/{lb_id}"),  # no such action on an item
        ("GET", "/v2/lbaas/loadbalancersX"),
        ("GET", "/v2/lbaas/loadbalancers/{lb_id}/secret_sauce"),
        ("GET", "/v2/lbaas/pools/{p}/members/{m}/extra"),
        ("POST", "/"),
    ],
)
def test_unknown_endpoints_have_no_rule(method: str, path: str) -> None:
    with pytest.raises(LookupError, match="no policy rule"):
        rule_for(method, path)


def _app_with(path: str, method: str = "GET") -> FastAPI:
    router = APIRouter()
    router.add_api_route(path, lambda: None, methods=[method])
    app = FastAPI()
    app.include_router(router, prefix="/v2")
    return app


def test_an_app_with_an_unguarded_route_does_not_start() -> None:
    assert route_rules(_app_with("/lbaas/loadbalancers").routes, default_policy())
    with pytest.raises(PolicyError, match="GET /v2/lbaas/gadgets: add it to"):
        route_rules(_app_with("/lbaas/gadgets").routes, default_policy())
    lacking = compile_rules({k: v for k, v in DEFAULT_RULES.items() if not k.endswith(":get_all")})
    with pytest.raises(PolicyError, match="needs rule 'os_load-balancer_api:loadbalancer:get_all'"):
        route_rules(_app_with("/lbaas/loadbalancers").routes, lacking)


def test_every_route_of_the_api_has_a_rule(make_client: object) -> None:
    """create_app computes the table; a route it missed would have stopped it."""
    from steelyard.api.app import create_app
    from steelyard.api.settings import ApiSettings

    app = create_app(ApiSettings(auth="noauth"), None, lambda _: None)  # type: ignore[arg-type]
    rules = app.state.route_rules
    assert len(rules) >= 40
    assert set(rules.values()) - {PUBLIC} <= DEFAULT_RULES.keys()


def test_serve_refuses_a_bad_policy_file_at_start(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('"load-balancer:write": "role:member and (project_id:%(project_id)s"\n')
    done = subprocess.run(
        [sys.executable, "-m", "steelyard", "serve", "--state-dir", str(tmp_path / "state"),
         "--listen", "127.0.0.1:0", "--policy-file", str(policy)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "steelyard: policy:" in done.stderr
    assert "rule 'load-balancer:write': a '(' is not closed" in done.stderr
    assert not (tmp_path / "state").exists()  # nothing was started


def test_a_policy_file_changes_what_the_api_allows(
    tmp_path: Path, make_client: Callable[..., Any]
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        '"load-balancer:write": "rule:load-balancer:admin"\n'
        '"os_load-balancer_api:provider:get_all": "!"\n'
    )
    policy = load_policy(path, DEFAULT_RULES)
    member = make_client(policy=policy)
    admin = make_client(project=None, policy=policy)

    refused = member.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {}})
    assert refused.status_code == 403
    assert refused.json()["faultstring"] == "Policy does not allow this request to be performed."
    created = admin.post(
        "/v2/lbaas/loadbalancers", json={"loadbalancer": {"project_id": "p-alpha"}}
    )
    assert created.status_code == 201
    assert member.get(f"{LBS}/{created.json()['loadbalancer']['id']}").is_success
    assert admin.get("/v2/lbaas/providers").status_code == 403  # "!": no one


def test_octavia_s_deprecated_roles(make_client: Callable[..., Any]) -> None:
    """Given as X-Roles under noauth: a global observer reads every project and writes none,
    a load-balancer_member works in its own project only."""
    lb = make_client(project="p-other").post("/v2/lbaas/loadbalancers", json={"loadbalancer": {}})
    lb_id = lb.json()["loadbalancer"]["id"]
    observer = make_client(roles="load-balancer_global_observer")
    old_member = make_client(roles="load-balancer_member")

    assert lb_id in [
        item["id"] for item in observer.get("/v2/lbaas/loadbalancers").json()["loadbalancers"]
    ]
    assert observer.get(f"/v2/lbaas/loadbalancers/{lb_id}").status_code == 200
    assert observer.delete(f"/v2/lbaas/loadbalancers/{lb_id}").status_code == 403
    assert old_member.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {}}).status_code == 201
    assert old_member.get(f"/v2/lbaas/loadbalancers/{lb_id}").status_code == 404
    assert (
        make_client(roles="load-balancer_observer")
        .post("/v2/lbaas/loadbalancers", json={"loadbalancer": {}})
        .status_code
        == 403
    )

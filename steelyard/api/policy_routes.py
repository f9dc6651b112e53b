"""Which policy rule guards which endpoint, derived from the route the way Octavia names its
rules: `/lbaas/<collection>` is `<object>:get_all` (GET), `:post` (POST), `:put` (PUT, a batch);
`/lbaas/<collection>/{id}` is `:get_one`, `:put`, `:delete`; `/{id}/stats`, `/status`,
`/failover`, `/config` are `:get_stats`, `:get_status`, `:put_failover`, `:put_config`.

A new resource module needs only its collection here. `route_rules` runs when the app is
built, so a route without a rule (or with a rule the policy lacks) stops the server at start
instead of answering 403 (or, worse, 200) at run time.
"""

import re
from collections.abc import Sequence
from functools import cache

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from steelyard.api.policy import Policy, PolicyError
from steelyard.api.policy_defaults import OCTAVIA, STEELYARD

PUBLIC = None  # no authentication at all: version discovery
API_PREFIXES = ("/v2.0", "/v2")

COLLECTIONS = {
    "/lbaas/loadbalancers": f"{OCTAVIA}:loadbalancer",
    "/lbaas/listeners": f"{OCTAVIA}:listener",
    "/lbaas/pools": f"{OCTAVIA}:pool",
    "/lbaas/pools/{}/members": f"{OCTAVIA}:member",
    "/lbaas/healthmonitors": f"{OCTAVIA}:healthmonitor",
    "/lbaas/l7policies": f"{OCTAVIA}:l7policy",
    "/lbaas/l7policies/{}/rules": f"{OCTAVIA}:l7rule",
    "/lbaas/quotas": f"{OCTAVIA}:quota",
    "/lbaas/providers": f"{OCTAVIA}:provider",
    "/lbaas/providers/{}/flavor_capabilities": f"{OCTAVIA}:provider-flavor",
    "/lbaas/providers/{}/availability_zone_capabilities": f"{OCTAVIA}:provider-availability-zone",
    "/lbaas/flavors": f"{OCTAVIA}:flavor",
    "/lbaas/flavorprofiles": f"{OCTAVIA}:flavor-profile",
    "/lbaas/availabilityzones": f"{OCTAVIA}:availability-zone",
    "/lbaas/availabilityzoneprofiles": f"{OCTAVIA}:availability-zone-profile",
    "/octavia/amphorae": f"{OCTAVIA}:amphora",
    "/steelyard/networks": f"{STEELYARD}:network",
    "/steelyard/subnets": f"{STEELYARD}:subnet",
    "/steelyard/secrets": f"{STEELYARD}:secret",
    # the Neutron look-ups of the openstack CLI (api/steelyard/neutron.py), and
    "/networks": f"{STEELYARD}:network",
    "/subnets": f"{STEELYARD}:subnet",
    # its project look-ups (api/steelyard/keystone.py)
    "/projects": f"{STEELYARD}:project",
}
COLLECTION_ACTIONS = {"GET": "get_all", "POST": "post", "PUT": "put"}
ITEM_ACTIONS = {"GET": "get_one", "PUT": "put", "DELETE": "delete"}
SUB_ACTIONS = {
    ("GET", "stats"): "get_stats",
    ("GET", "status"): "get_status",
    ("PUT", "failover"): "put_failover",
    ("PUT", "config"): "put_config",
}
# Endpoints that do not follow the pattern, by method and path without the API prefix.
SPECIAL = {
    ("GET", "/"): PUBLIC,
    ("GET", ""): PUBLIC,  # /v2 and /v2.0 themselves
    ("GET", "/lbaas/loadbalancers/{}/events"): f"{STEELYARD}:loadbalancer:get_events",
    ("GET", "/lbaas/loadbalancers/{}/logs"): f"{STEELYARD}:loadbalancer:get_logs",
    ("GET", "/lbaas/quotas/defaults"): f"{OCTAVIA}:quota:get_defaults",
    ("GET", "/lbaas/quotas/{}/default"): f"{OCTAVIA}:quota:get_defaults",
    ("GET", "/metrics"): f"{STEELYARD}:metrics:get_all",
}
PREFIX_RULES = {"/operator/": f"{STEELYARD}:operator"}
_PARAMETER = re.compile(r"\{[^}/]*\}")


def shape(path: str) -> str:
    """`/v2.0/lbaas/pools/{pool_id}/members` -> `/lbaas/pools/{}/members`."""
    for prefix in API_PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            path = path[len(prefix) :]
            break
    return _PARAMETER.sub("{}", path)


def classify(method: str, path_shape: str) -> tuple[str, str] | None:
    """(collection, action) of an endpoint that follows Octavia's pattern, e.g. ("GET",
    "/lbaas/pools/{}/members/{}") -> ("/lbaas/pools/{}/members", "get_one")."""
    for collection in COLLECTIONS:
        if path_shape != collection and not path_shape.startswith(collection + "/"):
            continue
        rest = path_shape[len(collection) :]
        parts = rest.split("/")[1:]  # "" -> [], "/{}" -> ["{}"], "/{}/stats" -> ["{}", "stats"]
        action = None
        if not parts:
            action = COLLECTION_ACTIONS.get(method)
        elif parts == ["{}"]:
            action = ITEM_ACTIONS.get(method)
        elif len(parts) == 2 and parts[0] == "{}":
            action = SUB_ACTIONS.get((method, parts[1]))
        if action is not None:
            return collection, action
    return None


@cache
def rule_for(method: str, path: str) -> str | None:
    """The rule guarding `method path` (a route's path template); PUBLIC (None) for version
    discovery. LookupError for an endpoint this table does not know."""
    path_shape = shape(path)
    if (method, path_shape) in SPECIAL:
        return SPECIAL[(method, path_shape)]
    for prefix, rule in PREFIX_RULES.items():
        if path_shape.startswith(prefix):
            return rule
    found = classify(method, path_shape)
    if found is None:
        raise LookupError(f"no policy rule for {method} {path}")
    collection, action = found
    return f"{COLLECTIONS[collection]}:{action}"


RouteRules = dict[tuple[int, str], str | None]


def route_rules(routes: Sequence[BaseRoute], policy: Policy) -> RouteRules:
    """The rule of every API route and method, keyed by the route object a request is
    dispatched to (`request.scope["route"]`) and the method. A route without a rule, or with
    a rule the policy lacks, is a PolicyError."""
    rules: RouteRules = {}
    for context in iter_route_contexts(routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue  # /openapi.json and the docs pages: public, no data
        path = context.path_format or route.path_format
        for method in sorted(route.methods or ()):
            try:
                rule = rule_for(method, path)
            except LookupError as exc:
                raise PolicyError(f"{exc}: add it to steelyard/api/policy_routes.py") from None
            if rule is not None and rule not in policy.rules:
                raise PolicyError(f"{method} {path} needs rule {rule!r}, which is not defined")
            key = (id(route), method)
            if rules.get(key, rule) != rule:  # one route included under two different paths
                raise PolicyError(f"{method} {path}: {rules[key]!r} or {rule!r}?")
            rules[key] = rule
    return rules

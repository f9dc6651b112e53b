"""The OpenAPI document at /openapi.json, describing what the API really takes and answers.

Handlers read their bodies with `deps.body(Model)` and answer with plain JSONResponses in
Octavia's shapes (`{"loadbalancer": {...}}`, `{"loadbalancers": [...], "loadbalancers_links":
[...]}`), which FastAPI cannot see. This module adds them to FastAPI's document:

- request bodies: the model of each route's `BodyParser` dependency;
- success responses: by Octavia's URL conventions (api/policy_routes.classify) and the
  resource table below, with SPECIAL for the endpoints that follow none;
- errors: every operation may answer 400, 401, 403, 404 and 409 with a fault body, as every
  error of this API has one (api/errors.py). FastAPI's 422 never happens: it is a 400 here.

`describe` refuses (KeyError) a route it cannot describe, so a new endpoint needs an entry
here; tests/unit/api/test_openapi.py checks every route. Routes kept out of the document (the
/v2.0 alias, the Neutron and Keystone look-ups of the openstack CLI) are not described.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from pydantic.json_schema import (
    GenerateJsonSchema,
    JsonSchemaMode,
    JsonSchemaValue,
    models_json_schema,
)
from pydantic_core import core_schema

from steelyard.api.deps import BodyParser
from steelyard.api.policy_routes import classify, rule_for, shape
from steelyard.model.amphora import Amphora
from steelyard.model.amphora_stats import AmphoraStatsRoot
from steelyard.model.diagnostics import (
    ApplianceDiagnosticsOut,
    LoadBalancerConnectivity,
    LoadBalancerDiagnostics,
)
from steelyard.model.flavor import (
    AvailabilityZoneOut,
    AvailabilityZoneProfileOut,
    FlavorOut,
    FlavorProfileOut,
)
from steelyard.model.health import HealthRoot
from steelyard.model.healthmonitor import HealthMonitorOut
from steelyard.model.l7 import PolicyOut, RuleOut
from steelyard.model.listener import ListenerOut
from steelyard.model.loadbalancer import LoadBalancerFull, LoadBalancerOut
from steelyard.model.logs import AdminLogOut, FlowLogOut, OperatorFlowLogOut
from steelyard.model.member import MemberOut
from steelyard.model.network import NetworkOut, SubnetOut
from steelyard.model.operator import (
    DefaultsOut,
    EventOut,
    LoadBalancerProtectionOut,
    OperatorEventOut,
)
from steelyard.model.operator_views import (
    OperatorAppliance,
    OperatorLoadBalancer,
    OperatorLoadBalancerListed,
)
from steelyard.model.pool import PoolOut
from steelyard.model.quota import QuotaLimitsOut, QuotaOut
from steelyard.model.repair import HostOut, HostRoot, RepairRoot
from steelyard.model.secret import SecretOut
from steelyard.model.status import LoadBalancerStatus, Stats
from steelyard.model.usage import UsageRoot
from steelyard.model.webhook import DeliveryOut, WebhookOut

Schema = dict[str, Any]
REF = "#/components/schemas/{model}"
ERRORS = {
    "400": "Bad input (also what FastAPI would call 422)",
    "401": "No or an invalid API key",
    "403": "Not allowed by the policy, or over quota",
    "404": "No such object, or another project's",
    "409": "Conflicts with the object's state",
}
FAULT: Schema = {
    "type": "object",
    "properties": {
        "faultcode": {"type": "string"},
        "faultstring": {"type": "string"},
        "debuginfo": {"type": ["string", "null"]},
    },
    "required": ["faultcode", "faultstring", "debuginfo"],
}
LINKS: Schema = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"href": {"type": "string"}, "rel": {"type": "string"}},
        "required": ["href", "rel"],
    },
}
NAMED: Schema = {  # providers and capabilities
    "type": "object",
    "properties": {"name": {"type": "string"}, "description": {"type": "string"}},
}


@dataclass(frozen=True)
class Resource:
    key: str  # {"loadbalancer": ...}
    model: type[BaseModel]
    plural: str = ""  # default key + "s"
    links: str | None = ""  # "": plural + "_links"; None: not paged
    created: type[BaseModel] | None = None  # a create may answer with another shape too

    @property
    def many(self) -> str:
        return self.plural or self.key + "s"


RESOURCES = {
    "/lbaas/loadbalancers": Resource("loadbalancer", LoadBalancerOut, created=LoadBalancerFull),
    "/lbaas/listeners": Resource("listener", ListenerOut),
    "/lbaas/pools": Resource("pool", PoolOut),
    "/lbaas/pools/{}/members": Resource("member", MemberOut),
    "/lbaas/healthmonitors": Resource("healthmonitor", HealthMonitorOut),
    "/lbaas/l7policies": Resource("l7policy", PolicyOut, plural="l7policies"),
    "/lbaas/l7policies/{}/rules": Resource("rule", RuleOut),
    "/lbaas/quotas": Resource("quota", QuotaOut),
    "/lbaas/flavors": Resource("flavor", FlavorOut),
    "/lbaas/flavorprofiles": Resource(
        "flavorprofile", FlavorProfileOut, links="flavorprofile_links"
    ),
    "/lbaas/availabilityzones": Resource("availability_zone", AvailabilityZoneOut),
    "/lbaas/availabilityzoneprofiles": Resource(
        "availability_zone_profile", AvailabilityZoneProfileOut
    ),
    "/octavia/amphorae": Resource("amphora", Amphora, plural="amphorae"),
    "/steelyard/secrets": Resource("secret", SecretOut, links=None),
    "/steelyard/networks": Resource("network", NetworkOut, links=None),
    "/steelyard/subnets": Resource("subnet", SubnetOut, links=None),
}


class _Schemas(GenerateJsonSchema):
    def datetime_schema(self, schema: core_schema.DatetimeSchema) -> JsonSchemaValue:
        """Times are UTC without an offset, as in Octavia ("2026-11-26T01:44:05"): ISO 8601
        but not RFC 3339's `date-time`, which requires one."""
        return {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"}


class Document:
    """Schemas of one OpenAPI document: models become components, referred to by name."""

    def __init__(self) -> None:
        self.models: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode = "serialization") -> Schema:
        self.models[(model, mode)] = None
        return {"$ref-model": (model, mode)}

    def components(self) -> tuple[dict[Any, Schema], Schema]:
        """The reference of each model, and the component schemas they refer to."""
        refs, schemas = models_json_schema(
            list(self.models), ref_template=REF, schema_generator=_Schemas
        )
        return dict(refs), schemas.get("$defs", {})


def _wrapped(key: str, schema: Schema) -> Schema:
    return {"type": "object", "properties": {key: schema}, "required": [key]}


def _listed(doc: Document, key: str, model: type[BaseModel], links: str | None) -> Schema:
    schema = _wrapped(key, {"type": "array", "items": doc.ref(model)})
    if links is not None:
        schema["properties"][links] = LINKS
    return schema


# Endpoints outside Octavia's URL pattern: (method, shape) -> their success body (None: none)
Special = Callable[[Document], Schema | None]
VERSIONS: Schema = _wrapped(
    "versions",
    {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "status": {"type": "string", "enum": ["CURRENT", "SUPPORTED"]},
                "updated": {"type": "string"},
                "links": LINKS,
            },
            "required": ["id", "status", "updated", "links"],
        },
    },
)
SPECIAL: dict[tuple[str, str], Special] = {
    ("GET", "/"): lambda doc: VERSIONS,
    ("GET", ""): lambda doc: VERSIONS,
    ("GET", "/lbaas/loadbalancers/{}/events"): lambda doc: _listed(
        doc, "events", EventOut, "events_links"
    ),
    ("GET", "/lbaas/quotas/defaults"): lambda doc: _wrapped("quota", doc.ref(QuotaLimitsOut)),
    ("GET", "/lbaas/quotas/{}/default"): lambda doc: _wrapped("quota", doc.ref(QuotaLimitsOut)),
    ("GET", "/lbaas/providers"): lambda doc: _wrapped(
        "providers", {"type": "array", "items": NAMED}
    ),
    ("GET", "/lbaas/providers/{}/flavor_capabilities"): lambda doc: _wrapped(
        "flavor_capabilities", {"type": "array", "items": NAMED}
    ),
    ("GET", "/lbaas/providers/{}/availability_zone_capabilities"): lambda doc: _wrapped(
        "availability_zone_capabilities", {"type": "array", "items": NAMED}
    ),
    ("GET", "/operator/protection/defaults"): lambda doc: doc.ref(DefaultsOut),
    ("PUT", "/operator/protection/defaults"): lambda doc: doc.ref(DefaultsOut),
    ("GET", "/operator/loadbalancers/{}/protection"): lambda doc: doc.ref(
        LoadBalancerProtectionOut
    ),
    ("PUT", "/operator/loadbalancers/{}/protection"): lambda doc: doc.ref(
        LoadBalancerProtectionOut
    ),
    ("DELETE", "/operator/loadbalancers/{}/protection"): lambda doc: doc.ref(
        LoadBalancerProtectionOut
    ),
    ("PUT", "/operator/loadbalancers/{}/under_attack"): lambda doc: doc.ref(
        LoadBalancerProtectionOut
    ),
    ("GET", "/operator/events"): lambda doc: _listed(
        doc, "events", OperatorEventOut, "events_links"
    ),
    ("GET", "/operator/webhooks"): lambda doc: _listed(
        doc, "webhooks", WebhookOut, "webhooks_links"
    ),
    ("POST", "/operator/webhooks"): lambda doc: _wrapped("webhook", doc.ref(WebhookOut)),
    ("GET", "/operator/webhooks/{}"): lambda doc: _wrapped("webhook", doc.ref(WebhookOut)),
    ("PUT", "/operator/webhooks/{}"): lambda doc: _wrapped("webhook", doc.ref(WebhookOut)),
    ("DELETE", "/operator/webhooks/{}"): lambda doc: None,
    ("GET", "/operator/webhooks/{}/deliveries"): lambda doc: _listed(
        doc, "deliveries", DeliveryOut, "deliveries_links"
    ),
    ("POST", "/operator/webhooks/{}/deliveries/{}/retry"): lambda doc: _wrapped(
        "delivery", doc.ref(DeliveryOut)
    ),
    ("GET", "/operator/health"): lambda doc: doc.ref(HealthRoot),
    # issue 4 (logs)
    ("GET", "/lbaas/loadbalancers/{}/logs"): lambda doc: _listed(
        doc, "logs", FlowLogOut, "logs_links"
    ),
    ("GET", "/operator/loadbalancers/{}/logs"): lambda doc: _listed(
        doc, "logs", OperatorFlowLogOut, "logs_links"
    ),
    ("GET", "/operator/logs"): lambda doc: _listed(doc, "logs", AdminLogOut, "logs_links"),
    ("GET", "/operator/usage"): lambda doc: doc.ref(UsageRoot),  # issue 4 (metering)
    ("GET", "/octavia/amphorae/{}/stats"): lambda doc: doc.ref(AmphoraStatsRoot),
    ("GET", "/operator/loadbalancers/{}/diagnostics"): lambda doc: _wrapped(
        "diagnostics", doc.ref(LoadBalancerDiagnostics)
    ),
    ("GET", "/operator/appliances/{}/diagnostics"): lambda doc: _wrapped(
        "diagnostics", doc.ref(ApplianceDiagnosticsOut)
    ),
    ("POST", "/operator/loadbalancers/{}/connectivity"): lambda doc: _wrapped(
        "connectivity", doc.ref(LoadBalancerConnectivity)
    ),
    ("DELETE", "/operator/health/circuit_breaker"): lambda doc: None,
    ("GET", "/operator/loadbalancers"): lambda doc: _listed(
        doc, "loadbalancers", OperatorLoadBalancerListed, "loadbalancers_links"
    ),
    ("GET", "/operator/loadbalancers/{}"): lambda doc: _wrapped(
        "loadbalancer", doc.ref(OperatorLoadBalancer)
    ),
    ("GET", "/operator/appliances"): lambda doc: _listed(
        doc, "appliances", OperatorAppliance, "appliances_links"
    ),
    **{
        ("POST", f"/operator/loadbalancers/{{}}/{action}"): lambda doc: doc.ref(RepairRoot)
        for action in ("failover", "resync", "migrate", "resize")
    },
    ("GET", "/operator/hosts"): lambda doc: _listed(doc, "hosts", HostOut, "hosts_links"),
    ("GET", "/operator/hosts/{}"): lambda doc: doc.ref(HostRoot),
    ("POST", "/operator/hosts/{}/drain"): lambda doc: doc.ref(HostRoot),
    ("POST", "/operator/hosts/{}/undrain"): lambda doc: doc.ref(HostRoot),
}
TEXT_ENDPOINTS = {("GET", "/metrics")}
EVENT_STREAMS = {("GET", "/operator/events/stream")}  # Server-Sent Events


def _conventional(doc: Document, method: str, path_shape: str, status: int) -> Schema | None:
    found = classify(method, path_shape)
    if found is None:
        raise KeyError(f"{method} {path_shape}: no response described in api/openapi.py")
    collection, action = found
    if (
        status == 204
        or action in ("put_failover", "put_config")
        or (action == "put" and path_shape == collection)
    ):
        return None
    if action == "get_stats":
        return _wrapped("stats", doc.ref(Stats))
    if action == "get_status":
        return _wrapped("statuses", _wrapped("loadbalancer", doc.ref(LoadBalancerStatus)))
    resource = RESOURCES[collection]
    if action == "get_all":
        links = resource.many + "_links" if resource.links == "" else resource.links
        return _listed(doc, resource.many, resource.model, links)
    one = doc.ref(resource.model)
    if action == "post" and resource.created is not None:
        one = {"anyOf": [one, doc.ref(resource.created)]}
    return _wrapped(resource.key, one)


def _success(doc: Document, method: str, path: str, status: int) -> Schema:
    path_shape = shape(path)
    if (method, path_shape) in TEXT_ENDPOINTS:
        return {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}
    if (method, path_shape) in EVENT_STREAMS:
        stream = {"text/event-stream": {"schema": {"type": "string"}}}
        return {"description": "Server-Sent Events", "content": stream}
    special = SPECIAL.get((method, path_shape))
    body = special(doc) if special else _conventional(doc, method, path_shape, status)
    if body is None:
        return {"description": "Done; no body"}
    return {"description": "OK", "content": {"application/json": {"schema": body}}}


def _body_model(dependant: Dependant) -> type[BaseModel] | None:
    for sub in dependant.dependencies:
        if isinstance(sub.call, BodyParser):
            model: type[BaseModel] = sub.call.model
            return model
        found = _body_model(sub)
        if found is not None:
            return found
    return None


def _resolve(node: Any, refs: dict[Any, Schema]) -> Any:
    """Replace the placeholders of `Document.ref` by the component references."""
    if isinstance(node, dict):
        if "$ref-model" in node:
            return refs[node["$ref-model"]]
        return {key: _resolve(value, refs) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(value, refs) for value in node]
    return node


def _operation(doc: Document, route: APIRoute, method: str, path: str) -> Schema:
    """Responses, security and request body of one operation."""
    status = route.status_code or 200
    described: Schema = {"responses": {str(status): _success(doc, method, path, status)}}
    if rule_for(method, path) is not None:
        fault = {"application/json": {"schema": {"$ref": REF.format(model="Fault")}}}
        described["responses"] |= {
            code: {"description": text, "content": fault} for code, text in ERRORS.items()
        }
        # Faults a route declares beyond those (503: a service this process does not offer).
        described["responses"] |= {
            str(code): {"description": str(spec.get("description", "")), "content": fault}
            for code, spec in route.responses.items()
            if int(code) >= 400
        }
        described["security"] = [{"ApiKey": []}, {"Basic": []}, {}]  # {}: --auth noauth
    model = _body_model(route.dependant)
    if model is not None:
        schema = doc.ref(model, "validation")
        described["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    return described


def describe(app: FastAPI) -> Schema:
    """The whole document for `app`."""
    document = get_openapi(title=app.title, version=app.version, routes=app.routes)
    doc = Document()
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path_format
        if not isinstance(route, APIRoute) or not context.include_in_schema or path is None:
            continue
        for method in route.methods or ():
            document["paths"][path][method.lower()] |= _operation(doc, route, method, path)
    refs, schemas = doc.components()
    resolved: Schema = _resolve(document, refs)
    components = resolved.setdefault("components", {})
    unused = ("HTTPValidationError", "ValidationError")  # FastAPI's 422: a 400 here
    kept = {
        name: schema for name, schema in components.get("schemas", {}).items() if name not in unused
    }
    components["schemas"] = {**kept, **schemas, "Fault": FAULT}
    components["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
        "Basic": {"type": "http", "scheme": "basic", "description": "the API key as password"},
    }
    return resolved


def install_openapi(app: FastAPI) -> None:
    """Serve `describe(app)` at /openapi.json (built on the first request, then kept)."""

    def openapi() -> Schema:
        if app.openapi_schema is None:
            app.openapi_schema = describe(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

"""Provider drivers (Octavia's term) and the flavor and availability zone data each accepts.

- `appliance`: Steelyard's HAProxy appliances. Its flavor data chooses the topology, the
  appliance count (ACTIVE_ACTIVE), HAProxy's threads and a compute size; its availability
  zone data names a host group. Anything else is refused: unknown keys, wrong types, values
  out of range.
- `noop`: the API alone, no data plane. Like Octavia's noop driver it interprets no data, so
  any JSON object is accepted.

Profiles keep the JSON text as sent; it is parsed here at every write and again when a load
balancer is created from it (as Octavia re-validates a flavor at create).
"""

import json
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import Field, ValidationError, model_validator

from steelyard.model.enums import Topology
from steelyard.model.faults import BadRequest, echo
from steelyard.model.fields import Body, Text, describe_errors, matching

APPLIANCE = "appliance"
NOOP = "noop"
MAX_DATA = 4096  # Octavia's limit on flavor_data and availability_zone_data
ACTIVE_ACTIVE_DEFAULT_COUNT = 2
B = TypeVar("B", bound=Body)


class ApplianceFlavor(Body):
    loadbalancer_topology: Topology | None = Field(
        None,
        description=(
            "The load balancer topology. One of: SINGLE - one appliance per load balancer. "
            "ACTIVE_STANDBY - two appliances, the VIP moves on failure. ACTIVE_ACTIVE - "
            "appliance_count appliances all serving the VIP behind ECMP routes."
        ),
    )
    appliance_count: Annotated[int, Field(ge=2, le=8)] | None = Field(
        None,
        description=(
            "ACTIVE_ACTIVE only: how many appliances serve the VIP, 2 to 8 (default 2). "
            "A Steelyard extension."
        ),
    )
    haproxy_threads: Annotated[int, Field(ge=1, le=64)] | None = Field(
        None,
        description=(
            "HAProxy threads per appliance, 1 to 64 (validated; the server's --haproxy-threads "
            "applies for now)."
        ),
    )
    compute_flavor: Text | None = Field(
        None,
        description="The appliances' compute size (validated; no compute driver uses it yet).",
    )

    @model_validator(mode="after")
    def _count_needs_active_active(self) -> "ApplianceFlavor":
        if self.appliance_count is not None and (
            self.loadbalancer_topology is not Topology.ACTIVE_ACTIVE
        ):
            raise ValueError("appliance_count is only valid with ACTIVE_ACTIVE topology")
        return self


HostGroup = Annotated[
    str,
    matching(
        r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}",
        "1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit",
    ),
]


class ApplianceZone(Body):
    host_group: HostGroup | None = Field(
        None, description="The host group whose hosts run the appliances of this zone."
    )


@dataclass(frozen=True)
class Capability:
    name: str
    description: str


@dataclass(frozen=True)
class Provider:
    name: str
    description: str
    interprets_data: bool  # False: any JSON object is accepted and none of it is used

    @property
    def flavor_capabilities(self) -> list[Capability]:
        return _capabilities(ApplianceFlavor) if self.interprets_data else []

    @property
    def zone_capabilities(self) -> list[Capability]:
        return _capabilities(ApplianceZone) if self.interprets_data else []


def _capabilities(model: type[Body]) -> list[Capability]:
    return [Capability(name, field.description or "") for name, field in model.model_fields.items()]


PROVIDERS = {
    APPLIANCE: Provider(APPLIANCE, "Steelyard HAProxy appliances", interprets_data=True),
    NOOP: Provider(NOOP, "API only, no data plane", interprets_data=False),
}


def provider(name: str) -> Provider:
    """A provider that is enabled here (Octavia: 400 "Provider ... is not enabled.")."""
    found = PROVIDERS.get(name)
    if found is None:
        raise BadRequest(f"Provider '{echo(name)}' is not enabled.")
    return found


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def _parse(text: str, option: str, chosen: Provider, model: type[B]) -> B:
    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicates)
    except (ValueError, RecursionError):
        raise BadRequest(f"{echo(text)} is not a valid option for {option}") from None
    unsupported = f"Provider '{chosen.name}' does not support a requested option: "
    if not isinstance(data, dict):
        raise BadRequest(unsupported + f"{option} must be a JSON object")
    if not chosen.interprets_data:
        return model()
    try:
        return model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        errors = [{**e, "loc": (option, *e["loc"])} for e in exc.errors(include_url=False)]
        raise BadRequest(unsupported + describe_errors(errors)) from None


def parse_flavor_data(provider_name: str, text: str) -> ApplianceFlavor:
    """What the flavor data asks for (nothing, for a provider that interprets none), or a 400
    that says what is wrong with it."""
    return _parse(text, "flavor_data", provider(provider_name), ApplianceFlavor)


def parse_zone_data(provider_name: str, text: str) -> ApplianceZone:
    return _parse(text, "availability_zone_data", provider(provider_name), ApplianceZone)


@dataclass(frozen=True)
class Shape:
    """How many appliances serve a new load balancer, and how."""

    topology: Topology
    appliance_count: int
    haproxy_threads: int | None = None


def shape(flavor: ApplianceFlavor, default: Topology) -> Shape:
    """The shape a flavor gives a load balancer; the operator's default topology applies when
    the flavor names none (or there is no flavor: `ApplianceFlavor()`)."""
    topology = flavor.loadbalancer_topology or default
    if topology is Topology.SINGLE:
        count = 1
    elif topology is Topology.ACTIVE_STANDBY:
        count = 2
    else:
        count = flavor.appliance_count or ACTIVE_ACTIVE_DEFAULT_COUNT
    return Shape(topology, count, flavor.haproxy_threads)

"""Protection settings (DDoS mitigation, rate limits): the wire type and how layers merge.

Three layers decide a listener's effective protection:
1. the tenant's `protection` on the listener (a Steelyard extension; absent fields fall back),
2. the deployment defaults (operator-wide, for every field the tenant leaves absent),
3. operator overrides per load balancer, and the "under attack" profile: these can only make
   things stricter. A tenant can never loosen them.

"Stricter" per field: limits and sizes take the lower value (absent = unlimited); a rate
compares requests per second, so 10 per 10 s is stricter than 5 per 1 s; deny lists are the
union of all layers; the action is the operator's when it sets one. Deny always beats allow:
the rendered config checks deny lists first. An allow list exempts sources from the limits;
once an operator layer applies, only operator allow lists count (a tenant's "0.0.0.0/0" would
otherwise switch the override off).
"""

import bisect
import ipaddress
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from steelyard.model.fields import Body
from steelyard.model.spec import ProtectionSpec

Action = Literal["reject", "http_429", "tarpit"]
Count = Annotated[int, Field(ge=1, le=10_000_000)]
Period = Annotated[int, Field(ge=1, le=3600)]
Millis = Annotated[int, Field(ge=100, le=3_600_000)]
Bytes = Annotated[int, Field(ge=256, le=1_073_741_824)]
Cidr = Annotated[str, Field(min_length=3, max_length=49, pattern=r"^[0-9A-Fa-f.:]+/\d{1,3}$")]
CidrList = Annotated[list[Cidr], Field(max_length=1000)]

MAX_TABLE_SIZE = 10_000_000


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class _NetworkIndex:
    """Answers "does this network overlap any of those?" in O(log n): networks are integer
    ranges; sorted by start with a running maximum end, one bisect finds the candidate.
    (Comparing all pairs made 1,000 x 1,000 entries take seconds.)"""

    def __init__(self, networks: list[Network]) -> None:
        self._by_version: dict[int, tuple[list[int], list[int]]] = {}
        for version in (4, 6):
            ranges = sorted(
                (int(n.network_address), int(n.broadcast_address))
                for n in networks
                if n.version == version
            )
            starts, max_ends, top = [], [], -1
            for start, end in ranges:
                top = max(top, end)
                starts.append(start)
                max_ends.append(top)
            self._by_version[version] = (starts, max_ends)

    def overlaps(self, net: Network) -> bool:
        starts, max_ends = self._by_version[net.version]
        # ranges starting at or before net's end; one of them reaches net's start iff overlap
        last = bisect.bisect_right(starts, int(net.broadcast_address)) - 1
        return last >= 0 and max_ends[last] >= int(net.network_address)


def _network(text: str) -> Network:
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a network in CIDR form ({exc})") from None


class Protection(Body):
    """What a tenant (or an operator override, or the deployment defaults) asks for."""

    max_conn_per_source: Count | None = None
    conn_rate_per_source: Count | None = None
    conn_rate_period_s: Period | None = None
    req_rate_per_source: Count | None = None
    req_rate_period_s: Period | None = None
    action: Action | None = None
    retry_after_s: Annotated[int, Field(ge=1, le=86_400)] | None = None
    tarpit_s: Annotated[int, Field(ge=1, le=60)] | None = None
    http_request_timeout_ms: Millis | None = None
    max_header_bytes: Bytes | None = None
    max_body_bytes: Bytes | None = None
    deny_cidrs: CidrList | None = None
    allow_cidrs: CidrList | None = None
    max_connections: Count | None = None
    trusted_proxies: CidrList | None = None
    accept_proxy: bool | None = None
    table_size: Annotated[int, Field(ge=1000, le=MAX_TABLE_SIZE)] | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        deny = [_network(c) for c in self.deny_cidrs or []]
        allow = [_network(c) for c in self.allow_cidrs or []]
        for name, items in (("deny_cidrs", deny), ("allow_cidrs", allow)):
            if len(set(items)) != len(items):
                raise ValueError(f"{name} lists a network twice")
        denied = _NetworkIndex(deny)
        for a in allow:
            if denied.overlaps(a):
                raise ValueError(f"allow_cidrs {a} overlaps deny_cidrs")
        for c in self.trusted_proxies or []:
            _network(c)
        if self.conn_rate_period_s is not None and self.conn_rate_per_source is None:
            raise ValueError("conn_rate_period_s needs conn_rate_per_source")
        if self.req_rate_period_s is not None and self.req_rate_per_source is None:
            raise ValueError("req_rate_period_s needs req_rate_per_source")
        return self


UNDER_ATTACK = Protection(
    max_conn_per_source=20,
    conn_rate_per_source=30,
    conn_rate_period_s=10,
    req_rate_per_source=100,
    req_rate_period_s=10,
    action="tarpit",
    http_request_timeout_ms=5000,
    max_header_bytes=16384,
)


def _lowest(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _strictest_rate(
    *rates: tuple[int | None, int | None],
) -> tuple[int | None, int]:
    """(count, period) with the fewest requests per second; absent counts are unlimited."""
    present = [(count, period or 10) for count, period in rates if count is not None]
    if not present:
        return None, 10
    return min(present, key=lambda rate: rate[0] / rate[1])


def _union(*lists: list[str] | None) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for items in lists:
        for item in items or []:
            seen[str(_network(item))] = None
    return tuple(seen)


def effective_protection(
    tenant: Protection | None,
    defaults: Protection | None = None,
    overrides: tuple[Protection, ...] = (),
) -> ProtectionSpec | None:
    """Merge the layers (see the module docstring). None when nothing at all is limited."""
    base = (defaults or Protection()).model_copy(
        update=(tenant or Protection()).model_dump(exclude_none=True)
    )
    layers = (base, *overrides)
    conn_count, conn_period = _strictest_rate(
        *((p.conn_rate_per_source, p.conn_rate_period_s) for p in layers)
    )
    req_count, req_period = _strictest_rate(
        *((p.req_rate_per_source, p.req_rate_period_s) for p in layers)
    )
    deny = _union(*(p.deny_cidrs for p in layers))
    # An allow list exempts sources from every limit, so a tenant's would undo an operator's
    # override ("0.0.0.0/0"): with overrides, only the operator's own allow lists count.
    # Deny wins over allow in every case.
    allowed = _union(*(p.allow_cidrs for p in overrides)) if overrides else _union(base.allow_cidrs)
    denied = _NetworkIndex([_network(c) for c in deny])
    allow = tuple(c for c in allowed if not denied.overlaps(_network(c)))
    action = next((p.action for p in reversed(layers) if p.action is not None), None)
    spec = ProtectionSpec(
        max_conn_per_source=_lowest(*(p.max_conn_per_source for p in layers)),
        conn_rate_per_source=conn_count,
        conn_rate_period_s=conn_period,
        req_rate_per_source=req_count,
        req_rate_period_s=req_period,
        action=action or "http_429",
        retry_after_s=_lowest(*(p.retry_after_s for p in layers)) or 10,
        tarpit_s=_lowest(*(p.tarpit_s for p in layers)) or 5,
        http_request_timeout_ms=_lowest(*(p.http_request_timeout_ms for p in layers)),
        max_header_bytes=_lowest(*(p.max_header_bytes for p in layers)),
        max_body_bytes=_lowest(*(p.max_body_bytes for p in layers)),
        deny_cidrs=deny,
        allow_cidrs=allow,
        max_connections=_lowest(*(p.max_connections for p in layers)),
        trusted_proxies=_union(base.trusted_proxies),
        accept_proxy=bool(base.accept_proxy),
        table_size=_lowest(*(p.table_size for p in layers)) or 1_000_000,
    )
    return None if spec == ProtectionSpec(table_size=spec.table_size) else spec

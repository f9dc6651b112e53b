"""Webhooks (/v2/operator/webhooks): where alerts go, which events each one wants, and the
pure rules the API and the dispatcher share (URL checks, filter matching, destinations).

The secret is write-only: it signs every delivery (steelyard.telemetry.webhook_signature) and
no response carries it (`secret_set` says whether one is set).
"""

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints

from steelyard.model.fields import Body, Out, ProjectId, Text, Timestamp, Uuid
from steelyard.model.operator import Severity

MAX_URL = 2048
MAX_FILTER_VALUES = 50
DeliveryState = Literal["pending", "delivered", "dead"]
DELIVERY_STATES: tuple[str, ...] = get_args(DeliveryState)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_EVENT_TYPE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?")
_HOST_NAME = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


def check_url(value: str) -> str:
    """An absolute http(s) URL of printable ASCII without spaces, user info or fragment."""
    if not _URL_CHARS.fullmatch(value):
        raise ValueError("must be printable ASCII without spaces (percent-encode the rest)")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError("only http and https URLs are allowed")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("user information in the URL is not allowed (the secret signs)")
    if parts.fragment or "#" in value:
        raise ValueError("a fragment is not allowed")
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        raise ValueError("invalid port") from None
    if port == 0:
        raise ValueError("invalid port")
    if not host:
        raise ValueError("a host is required")
    if host.startswith("[") or ":" in host:
        try:
            ipaddress.IPv6Address(host.strip("[]"))
        except ValueError:
            raise ValueError("invalid IPv6 address") from None
    elif not _HOST_NAME.fullmatch(host):
        raise ValueError("invalid host name")
    return value


def _check_event_type(value: str) -> str:
    if not _EVENT_TYPE.fullmatch(value):
        raise ValueError("an event type is dotted lower-case words, optionally ending in .*")
    return value


Url = Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL), AfterValidator(check_url)]
# Printable ASCII without spaces: what a receiver can keep in a config file or environment.
Secret = Annotated[str, StringConstraints(min_length=16, max_length=256, pattern=r"^[\x21-\x7e]+$")]
EventTypeFilter = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_check_event_type)
]


EventTypes = Annotated[list[EventTypeFilter], Field(max_length=MAX_FILTER_VALUES)]
Severities = Annotated[list[Severity], Field(max_length=3)]
LoadBalancerIds = Annotated[list[Uuid], Field(max_length=MAX_FILTER_VALUES)]
ProjectIds = Annotated[list[ProjectId], Field(max_length=MAX_FILTER_VALUES)]


class WebhookCreate(Body):
    """Filters: an empty list (the default) lets every value through."""

    name: Text = ""
    url: Url
    secret: Secret
    enabled: bool = True
    event_types: EventTypes = Field(default_factory=list)
    severities: Severities = Field(default_factory=list)
    loadbalancer_ids: LoadBalancerIds = Field(default_factory=list)
    project_ids: ProjectIds = Field(default_factory=list)


class WebhookUpdate(Body):
    """Only what is given changes; an empty list clears that filter (every value passes)."""

    name: Text | None = None
    url: Url | None = None
    secret: Secret | None = None
    enabled: bool | None = None
    event_types: EventTypes | None = None
    severities: Severities | None = None
    loadbalancer_ids: LoadBalancerIds | None = None
    project_ids: ProjectIds | None = None


class WebhookCreateRoot(Body):
    webhook: WebhookCreate


class WebhookUpdateRoot(Body):
    webhook: WebhookUpdate


class WebhookOut(Out):
    id: str
    name: str
    url: str
    secret_set: bool
    enabled: bool
    event_types: list[str]
    severities: list[str]
    loadbalancer_ids: list[str]
    project_ids: list[str]
    created_at: Timestamp
    updated_at: Timestamp | None


class DeliveryOut(Out):
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    state: DeliveryState
    attempts: int
    next_attempt_at: Timestamp | None
    last_attempt_at: Timestamp | None
    last_status_code: int | None
    last_error: str | None
    created_at: Timestamp
    delivered_at: Timestamp | None


@dataclass(frozen=True)
class EventFilters:
    """A webhook's filters; an empty tuple lets every value through."""

    event_types: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    loadbalancer_ids: tuple[str, ...] = ()
    project_ids: tuple[str, ...] = ()


def type_matches(patterns: Sequence[str], event_type: str) -> bool:
    """`member.*` matches `member.operating_status` (and deeper names), not `member`."""
    for pattern in patterns:
        if pattern.endswith(".*"):
            if event_type.startswith(pattern[:-1]):
                return True
        elif pattern == event_type:
            return True
    return not patterns


def matches(filters: EventFilters, event: dict[str, Any]) -> bool:
    """Whether an event (type, severity, loadbalancer_id, project_id) passes every filter.
    An event that names no load balancer (or project) passes only an empty filter of it."""
    return (
        type_matches(filters.event_types, event["type"])
        and (not filters.severities or event["severity"] in filters.severities)
        and (not filters.loadbalancer_ids or event["loadbalancer_id"] in filters.loadbalancer_ids)
        and (not filters.project_ids or event["project_id"] in filters.project_ids)
    )


def parse_networks(text: str) -> tuple[Network, ...]:
    """`127.0.0.0/8,::1/128` (ValueError on anything else)."""
    return tuple(ipaddress.ip_network(part.strip()) for part in text.split(",") if part.strip())


def destination_refused(url: str, allowed: Sequence[Network] | None) -> str | None:
    """Why the server refuses to send to `url` (None: it may). With an allow list only IP
    literals inside it (and `localhost`, for loopback) pass: a name would be resolved, and
    resolution itself may leave the machine."""
    if allowed is None:
        return None
    host = (urlsplit(url).hostname or "").strip("[]")
    candidates = (
        [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
        if host == "localhost"
        else []
    )
    if not candidates:
        try:
            candidates = [ipaddress.ip_address(host)]
        except ValueError:
            return "the server sends webhooks only to IP addresses of its allow list"
    if any(address in network for address in candidates for network in allowed):
        return None
    return "the server's webhook allow list does not include this address"

"""Which protection settings a listener's protocol can honour (issue 5).

HTTP listeners honour every setting. A TCP listener sees connections, never requests, so
these settings need HTTP and a tenant may not set them on a TCP listener (400):

- `req_rate_per_source`, `req_rate_period_s`: requests are counted by the HTTP parser;
- `http_request_timeout_ms`, `max_header_bytes`, `max_body_bytes`: limits on a request;
- `trusted_proxies`: the client address comes from X-Forwarded-For;
- `retry_after_s`, `tarpit_s`: they only tune the "http_429" and "tarpit" actions;
- `action` other than "reject": a 429 and HAProxy's tarpit are HTTP responses. On TCP the
  only action is "reject" (the connection is closed).

Deployment defaults and operator overrides apply to listeners of every protocol, so they may
name HTTP settings; on a TCP listener `for_protocol` drops those and makes the action
"reject". That is what the renderer does with a TCP listener, so what a tenant reads as
`effective_protection` is what its data plane enforces.
"""

from dataclasses import replace
from typing import Annotated, Any

from pydantic import PlainSerializer

from steelyard.model.enums import ListenerProtocol
from steelyard.model.protection import Protection
from steelyard.model.spec import ProtectionSpec

HTTP_ONLY = (
    "req_rate_per_source",
    "req_rate_period_s",
    "http_request_timeout_ms",
    "max_header_bytes",
    "max_body_bytes",
    "trusted_proxies",
    "retry_after_s",
    "tarpit_s",
)
TCP_ACTIONS = ("reject",)
_UNLIMITED = ProtectionSpec()


def check_protection(protocol: ListenerProtocol | str, protection: Protection | None) -> None:
    """Raise ValueError naming the first setting that `protocol` cannot honour."""
    if protection is None or protocol == ListenerProtocol.HTTP:
        return
    for name in HTTP_ONLY:
        if getattr(protection, name) is not None:
            raise ValueError(f"{name} needs an HTTP listener, this one is {protocol}")
    if protection.action is not None and protection.action not in TCP_ACTIONS:
        raise ValueError(
            f"action {protection.action} needs an HTTP listener; {protocol} listeners "
            f"support only {', '.join(TCP_ACTIONS)}"
        )


def for_protocol(
    spec: ProtectionSpec | None, protocol: ListenerProtocol | str
) -> ProtectionSpec | None:
    """The part of a merged `spec` that a `protocol` listener enforces; None: nothing."""
    if spec is None or protocol == ListenerProtocol.HTTP:
        return spec
    unset = {name: getattr(_UNLIMITED, name) for name in HTTP_ONLY}
    tcp = replace(spec, **unset, action=TCP_ACTIONS[0])
    neutral = replace(tcp, action=_UNLIMITED.action, table_size=_UNLIMITED.table_size)
    return None if neutral == _UNLIMITED else tcp


def _as_given(value: Protection | None) -> dict[str, Any] | None:
    return None if value is None else value.model_dump(mode="json", exclude_none=True)


# In a response: the settings as their author gave them, without the absent (null) ones.
GivenProtection = Annotated[
    Protection | None, PlainSerializer(_as_given, return_type=dict[str, Any] | None)
]

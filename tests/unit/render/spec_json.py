"""Build render specs from the JSON of golden cases (tests only, not part of the package).

A case file is `{"loadbalancer": {...}, "settings": {...}}`; `settings` is optional. Keys are
the dataclass field names; unknown keys are errors so that a typo in a case cannot go unseen.
"""

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from steelyard.model.enums import (
    ClientAuthentication,
    HealthMonitorType,
    HTTPMethod,
    LBAlgorithm,
    ListenerProtocol,
    PoolProtocol,
    SessionPersistenceType,
)
from steelyard.model.l7 import L7CompareType, L7PolicyAction, L7RuleType
from steelyard.model.spec import (
    HealthMonitorSpec,
    L7PolicySpec,
    L7RuleSpec,
    ListenerSpec,
    ListenerTlsSpec,
    LoadBalancerSpec,
    MemberSpec,
    PoolSpec,
    PoolTlsSpec,
    ProtectionSpec,
    RenderSettings,
    RuntimePaths,
    SessionPersistenceSpec,
    TlsFile,
)

# The fixed runtime paths of every golden file.
GOLDEN_PATHS = RuntimePaths(
    "/run/sy/a/stats.sock", "/run/sy/a/server-state", None, tls_dir="/run/sy/a/tls"
)

Converters = Mapping[str, Callable[[Any], Any]]


def _kwargs(data: Mapping[str, Any], cls: type[Any], convert: Converters) -> dict[str, Any]:
    names = {field.name for field in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown keys {sorted(unknown)}")
    return {key: convert[key](value) if key in convert else value for key, value in data.items()}


def _optional(build: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else build(value)


def _headers(value: Mapping[str, str] | list[list[str]]) -> tuple[tuple[str, str], ...]:
    pairs = value.items() if isinstance(value, Mapping) else value
    return tuple((name, text) for name, text in pairs)


def healthmonitor_from_json(data: Mapping[str, Any]) -> HealthMonitorSpec:
    convert = {"type": HealthMonitorType, "http_method": HTTPMethod}
    return HealthMonitorSpec(**_kwargs(data, HealthMonitorSpec, convert))


def persistence_from_json(data: Mapping[str, Any]) -> SessionPersistenceSpec:
    convert = {"type": SessionPersistenceType}
    return SessionPersistenceSpec(**_kwargs(data, SessionPersistenceSpec, convert))


def member_from_json(data: Mapping[str, Any]) -> MemberSpec:
    return MemberSpec(**_kwargs(data, MemberSpec, {}))


def tls_file_from_json(data: Mapping[str, Any]) -> TlsFile:
    return TlsFile(**_kwargs(data, TlsFile, {}))


_TLS_COMMON: Converters = {
    "tls_versions": tuple,
    "alpn_protocols": tuple,
}


def pool_tls_from_json(data: Mapping[str, Any]) -> PoolTlsSpec:
    convert: Converters = {
        **_TLS_COMMON,
        **{name: _optional(tls_file_from_json) for name in ("client_certificate", "ca", "crl")},
    }
    return PoolTlsSpec(**_kwargs(data, PoolTlsSpec, convert))


def listener_tls_from_json(data: Mapping[str, Any]) -> ListenerTlsSpec:
    convert: Converters = {
        **_TLS_COMMON,
        "certificates": lambda items: tuple(tls_file_from_json(item) for item in items),
        "client_authentication": ClientAuthentication,
        "client_ca": _optional(tls_file_from_json),
        "client_crl": _optional(tls_file_from_json),
    }
    return ListenerTlsSpec(**_kwargs(data, ListenerTlsSpec, convert))


def pool_from_json(data: Mapping[str, Any]) -> PoolSpec:
    convert: Converters = {
        "protocol": PoolProtocol,
        "lb_algorithm": LBAlgorithm,
        "members": lambda items: tuple(member_from_json(item) for item in items),
        "healthmonitor": _optional(healthmonitor_from_json),
        "session_persistence": _optional(persistence_from_json),
        "tls": _optional(pool_tls_from_json),
    }
    return PoolSpec(**_kwargs(data, PoolSpec, convert))


def protection_from_json(data: Mapping[str, Any]) -> ProtectionSpec:
    convert: Converters = {name: tuple for name in ("deny_cidrs", "allow_cidrs", "trusted_proxies")}
    return ProtectionSpec(**_kwargs(data, ProtectionSpec, convert))


def l7rule_from_json(data: Mapping[str, Any]) -> L7RuleSpec:
    convert = {"type": L7RuleType, "compare_type": L7CompareType}
    return L7RuleSpec(**_kwargs(data, L7RuleSpec, convert))


def l7policy_from_json(data: Mapping[str, Any]) -> L7PolicySpec:
    convert: Converters = {
        "action": L7PolicyAction,
        "rules": lambda items: tuple(l7rule_from_json(item) for item in items),
    }
    return L7PolicySpec(**_kwargs(data, L7PolicySpec, convert))


def listener_from_json(data: Mapping[str, Any]) -> ListenerSpec:
    convert: Converters = {
        "protocol": ListenerProtocol,
        "insert_headers": _headers,
        "allowed_cidrs": lambda items: tuple(items) if isinstance(items, list) else items,
        "protection": _optional(protection_from_json),
        "tls": _optional(listener_tls_from_json),
        "l7policies": lambda items: tuple(l7policy_from_json(item) for item in items),
    }
    return ListenerSpec(**_kwargs(data, ListenerSpec, convert))


def spec_from_json(data: Mapping[str, Any]) -> LoadBalancerSpec:
    convert: Converters = {
        "listeners": lambda items: tuple(listener_from_json(item) for item in items),
        "pools": lambda items: tuple(pool_from_json(item) for item in items),
    }
    return LoadBalancerSpec(**_kwargs(data, LoadBalancerSpec, convert))


def settings_from_json(data: Mapping[str, Any], paths: RuntimePaths) -> RenderSettings:
    """Settings for a case; `log_socket` (a path) turns logging on."""
    values = dict(data)
    log_socket = values.pop("log_socket", None)
    paths = dataclasses.replace(paths, log_socket=log_socket)
    return RenderSettings(paths=paths, **_kwargs(values, RenderSettings, {}))


def load_case(
    path: Path, paths: RuntimePaths = GOLDEN_PATHS
) -> tuple[LoadBalancerSpec, RenderSettings]:
    data = json.loads(path.read_text())
    unknown = set(data) - {"loadbalancer", "settings", "comment"}
    if unknown:
        raise ValueError(f"{path.name}: unknown keys {sorted(unknown)}")
    return spec_from_json(data["loadbalancer"]), settings_from_json(data.get("settings", {}), paths)

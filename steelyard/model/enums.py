"""Octavia's enumerations, with the same spellings on the wire."""

from enum import StrEnum


class ProvisioningStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DELETED = "DELETED"
    ERROR = "ERROR"
    PENDING_CREATE = "PENDING_CREATE"
    PENDING_UPDATE = "PENDING_UPDATE"
    PENDING_DELETE = "PENDING_DELETE"


class OperatingStatus(StrEnum):
    ONLINE = "ONLINE"
    DRAINING = "DRAINING"
    OFFLINE = "OFFLINE"
    DEGRADED = "DEGRADED"
    ERROR = "ERROR"
    NO_MONITOR = "NO_MONITOR"


class ListenerProtocol(StrEnum):
    HTTP = "HTTP"
    HTTPS = "HTTPS"  # TLS passed through to the members (TCP mode)
    TCP = "TCP"
    TERMINATED_HTTPS = "TERMINATED_HTTPS"


class PoolProtocol(StrEnum):
    HTTP = "HTTP"
    HTTPS = "HTTPS"  # members speak TLS themselves (behind an HTTPS or TCP listener)
    PROXY = "PROXY"  # the listener's mode, with the PROXY protocol v1 header to members
    PROXYV2 = "PROXYV2"
    TCP = "TCP"


# Which pools a listener may use (Octavia's VALID_LISTENER_POOL_PROTOCOL_MAP, minus UDP/SCTP).
LISTENER_POOL_PROTOCOLS: dict[ListenerProtocol, frozenset[PoolProtocol]] = {
    ListenerProtocol.HTTP: frozenset({PoolProtocol.HTTP, PoolProtocol.PROXY, PoolProtocol.PROXYV2}),
    ListenerProtocol.HTTPS: frozenset(
        {PoolProtocol.HTTPS, PoolProtocol.PROXY, PoolProtocol.PROXYV2, PoolProtocol.TCP}
    ),
    ListenerProtocol.TCP: frozenset(
        {
            PoolProtocol.HTTP,
            PoolProtocol.HTTPS,
            PoolProtocol.PROXY,
            PoolProtocol.PROXYV2,
            PoolProtocol.TCP,
        }
    ),
    ListenerProtocol.TERMINATED_HTTPS: frozenset(
        {PoolProtocol.HTTP, PoolProtocol.PROXY, PoolProtocol.PROXYV2}
    ),
}
# Listeners whose HAProxy frontend runs in http mode (requests are parsed).
HTTP_MODE_LISTENERS = frozenset({ListenerProtocol.HTTP, ListenerProtocol.TERMINATED_HTTPS})


class ClientAuthentication(StrEnum):
    """TLS client certificates on a TERMINATED_HTTPS listener (Octavia's names)."""

    NONE = "NONE"
    OPTIONAL = "OPTIONAL"
    MANDATORY = "MANDATORY"


class LBAlgorithm(StrEnum):
    ROUND_ROBIN = "ROUND_ROBIN"
    LEAST_CONNECTIONS = "LEAST_CONNECTIONS"
    SOURCE_IP = "SOURCE_IP"
    SOURCE_IP_PORT = "SOURCE_IP_PORT"


class HealthMonitorType(StrEnum):
    HTTP = "HTTP"
    HTTPS = "HTTPS"
    TCP = "TCP"
    TLS_HELLO = "TLS-HELLO"


class HTTPMethod(StrEnum):
    CONNECT = "CONNECT"
    DELETE = "DELETE"
    GET = "GET"
    HEAD = "HEAD"
    OPTIONS = "OPTIONS"
    PATCH = "PATCH"
    POST = "POST"
    PUT = "PUT"
    TRACE = "TRACE"


class SessionPersistenceType(StrEnum):
    SOURCE_IP = "SOURCE_IP"
    HTTP_COOKIE = "HTTP_COOKIE"
    APP_COOKIE = "APP_COOKIE"


class Topology(StrEnum):
    SINGLE = "SINGLE"
    ACTIVE_STANDBY = "ACTIVE_STANDBY"
    ACTIVE_ACTIVE = "ACTIVE_ACTIVE"


class ApplianceStatus(StrEnum):
    BOOTING = "BOOTING"  # row made, place being built or taken from the spare pool
    READY = "READY"  # a spare: built, belongs to no load balancer yet
    ALLOCATED = "ALLOCATED"  # serving a load balancer
    RETIRING = "RETIRING"  # serving, to be replaced (operator failover, migrate)
    FAILED = "FAILED"  # declared dead (heartbeats) or by an operator: replaced at once


class ApplianceRole(StrEnum):
    STANDALONE = "STANDALONE"
    MASTER = "MASTER"
    BACKUP = "BACKUP"
    ACTIVE = "ACTIVE"  # every appliance of an ACTIVE_ACTIVE load balancer


class Role(StrEnum):
    READER = "reader"
    MEMBER = "member"
    ADMIN = "admin"

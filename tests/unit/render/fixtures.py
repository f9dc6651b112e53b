"""A load balancer that uses every field the HAProxy renderer writes, for tests to vary."""

from steelyard.model.enums import (
    HealthMonitorType,
    HTTPMethod,
    LBAlgorithm,
    ListenerProtocol,
    PoolProtocol,
    SessionPersistenceType,
)
from steelyard.model.spec import (
    HealthMonitorSpec,
    ListenerSpec,
    LoadBalancerSpec,
    MemberSpec,
    PoolSpec,
    RenderSettings,
    RuntimePaths,
    SessionPersistenceSpec,
)

LB_ID = "0b000000-0000-4000-8000-000000000000"
HTTP_POOL = "b0000000-0000-4000-8000-000000000001"
TCP_POOL = "b0000000-0000-4000-8000-000000000002"


def full_spec() -> LoadBalancerSpec:
    http_pool = PoolSpec(
        id=HTTP_POOL,
        protocol=PoolProtocol.HTTP,
        lb_algorithm=LBAlgorithm.ROUND_ROBIN,
        members=(
            MemberSpec(
                id="c0000000-0000-4000-8000-000000000001",
                address="198.18.1.1",
                protocol_port=8080,
                weight=5,
                monitor_address="198.18.2.1",
                monitor_port=9000,
            ),
            MemberSpec(
                id="c0000000-0000-4000-8000-000000000002",
                address="198.18.1.2",
                protocol_port=8080,
                backup=True,
            ),
        ),
        healthmonitor=HealthMonitorSpec(
            id="d0000000-0000-4000-8000-000000000001",
            type=HealthMonitorType.HTTPS,
            delay=5,
            timeout=3,
            max_retries=2,
            max_retries_down=3,
            http_method=HTTPMethod.GET,
            url_path="/health?deep=1",
            expected_codes="200-204",
            http_version=1.1,
            domain_name="app.example.com",
        ),
        session_persistence=SessionPersistenceSpec(
            type=SessionPersistenceType.APP_COOKIE, cookie_name="JSESSIONID"
        ),
    )
    tcp_pool = PoolSpec(
        id=TCP_POOL,
        protocol=PoolProtocol.TCP,
        lb_algorithm=LBAlgorithm.SOURCE_IP,
        members=(
            MemberSpec(
                id="c0000000-0000-4000-8000-000000000003",
                address="198.18.1.3",
                protocol_port=5432,
                monitor_port=5433,
            ),
        ),
        healthmonitor=HealthMonitorSpec(
            id="d0000000-0000-4000-8000-000000000002",
            type=HealthMonitorType.TCP,
            delay=10,
            timeout=5,
            max_retries=3,
            max_retries_down=3,
        ),
        session_persistence=SessionPersistenceSpec(
            type=SessionPersistenceType.SOURCE_IP,
            persistence_timeout=600,
            persistence_granularity="255.255.255.0",
        ),
    )
    listeners = (
        ListenerSpec(
            id="a0000000-0000-4000-8000-000000000001",
            protocol=ListenerProtocol.HTTP,
            protocol_port=80,
            default_pool_id=HTTP_POOL,
            connection_limit=1000,
            timeout_tcp_inspect=500,
            insert_headers=(
                ("X-Forwarded-For", "true"),
                ("X-Forwarded-Port", "true"),
                ("X-Forwarded-Proto", "true"),
            ),
        ),
        ListenerSpec(
            id="a0000000-0000-4000-8000-000000000002",
            protocol=ListenerProtocol.TCP,
            protocol_port=5432,
            default_pool_id=TCP_POOL,
        ),
    )
    return LoadBalancerSpec(
        id=LB_ID, vip_address="198.18.0.10", listeners=listeners, pools=(http_pool, tcp_pool)
    )


def full_settings() -> RenderSettings:
    return RenderSettings(
        paths=RuntimePaths("/run/sy/a/stats.sock", "/run/sy/a/server-state", "/run/sy/a/log.sock")
    )


def structure(config: str) -> list[tuple[str, int]]:
    """(section header, number of lines in it) for each section of a rendered config."""
    sections: list[tuple[str, int]] = []
    for line in config.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith(" "):
            header, count = sections[-1]
            sections[-1] = (header, count + 1)
        else:
            sections.append((line, 0))
    return sections

"""The `steelyard` command."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from steelyard.model.enums import Topology
from steelyard.model.repair import parse_host
from steelyard.server.settings import (
    DEFAULT_HEARTBEAT_LISTEN,
    DEFAULT_LISTEN,
    Auth,
    Driver,
    ServerSettings,
    default_driver,
    default_state_dir,
)

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Steelyard load balancers.")
keys_app = typer.Typer(no_args_is_help=True, help="Built-in API keys (local admin commands).")
app.add_typer(keys_app, name="keys")
console = Console()

StateDir = Annotated[
    Path | None, typer.Option("--state-dir", help="database, PKI and appliance files")
]


class VrrpTiming(StrEnum):
    STEELYARD = "STEELYARD"  # VRRPv3, 100 ms adverts, HAProxy tracked by process events
    OCTAVIA_DEFAULTS = "OCTAVIA_DEFAULTS"  # Octavia 19's: VRRPv2, 1 s adverts, check every 5 s


Url = Annotated[str, typer.Option("--url", envvar="STEELYARD_URL", help="Steelyard API")]


@app.command()
def serve(
    listen: Annotated[str, typer.Option(help="API address HOST:PORT")] = DEFAULT_LISTEN,
    state_dir: StateDir = None,
    auth: Annotated[Auth, typer.Option(help="noauth (development) or keys")] = "noauth",
    driver: Annotated[
        Driver | None, typer.Option(help="netns (root) or process; default by privilege")
    ] = None,
    prefix: Annotated[str, typer.Option(help="prefix of namespaces and links")] = "sy",
    vip_cidr: Annotated[str | None, typer.Option(help="default VIP subnet")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 4,
    haproxy_threads: Annotated[
        int | None, typer.Option(min=1, max=64, help="HAProxy threads; default one per CPU (≤ 4)")
    ] = None,
    default_topology: Annotated[
        Topology, typer.Option(help="topology of load balancers whose flavor names none")
    ] = Topology.SINGLE,
    heartbeat_listen: Annotated[
        str, typer.Option(help="HOST:PORT the health manager receives heartbeats on (UDP)")
    ] = DEFAULT_HEARTBEAT_LISTEN,
    policy_file: Annotated[
        Path | None, typer.Option(help="YAML policy (oslo.policy rules) over Octavia's defaults")
    ] = None,
    heartbeat_interval: Annotated[
        float, typer.Option(min=0.05, max=60, help="seconds between an appliance's heartbeats")
    ] = 1.0,
    heartbeat_timeout: Annotated[
        float, typer.Option(min=0.2, max=600, help="silent this long: the appliance failed")
    ] = 3.0,
    spare_pool: Annotated[
        int, typer.Option(min=0, max=100, help="ready spare appliances to keep (netns)")
    ] = 0,
    usage_interval: Annotated[
        float, typer.Option(min=0.1, max=3600, help="seconds between usage accruals (billing)")
    ] = 60.0,
    vrrp_timing: Annotated[
        VrrpTiming, typer.Option(help="keepalived timing of ACTIVE_STANDBY pairs")
    ] = VrrpTiming.STEELYARD,
    webhook_attempts: Annotated[
        int, typer.Option(min=1, max=50, help="attempts per webhook delivery before it is dead")
    ] = 8,
    webhook_backoff: Annotated[
        float, typer.Option(min=0.01, max=3600, help="seconds after a delivery's first failure")
    ] = 2.0,
    webhook_allow: Annotated[
        str | None,
        typer.Option(help="networks webhooks may go to, e.g. 127.0.0.0/8,::1/128; default any"),
    ] = None,
    log_retention_hours: Annotated[
        float, typer.Option(min=0.01, max=87600, help="hours flow and admin logs are kept")
    ] = 72.0,
    log_max_rows: Annotated[
        int, typer.Option(min=100, max=1_000_000_000, help="rows kept per log table at most")
    ] = 1_000_000,
    log_target: Annotated[
        list[str] | None,
        typer.Option(
            help="remote syslog for flow logs, udp://HOST:PORT or tcp://HOST:PORT; repeatable"
        ),
    ] = None,
    admin_log_target: Annotated[
        list[str] | None,
        typer.Option(help="remote syslog for admin logs (agents, HAProxy, keepalived); repeatable"),
    ] = None,
    connection_logging: Annotated[
        bool,
        typer.Option(
            help="a flow log row per request (HTTP) or connection (TCP); --no-connection-logging"
            " saves its CPU (admin logs stay)"
        ),
    ] = True,
    host: Annotated[
        list[str] | None,
        typer.Option(
            help="a host for appliances, NAME[:CAPACITY][@HOST_GROUP], repeatable; default one "
            "named after this machine (the local agent serves them all)"
        ),
    ] = None,
) -> None:
    """Run the server in the foreground: API, reconciler, status observer, local agent."""
    from steelyard.api.policy import PolicyError
    from steelyard.server.run import serve as run_server
    from steelyard.telemetry.syslog_sender import parse_target

    try:
        hosts = tuple(parse_host(text) for text in host or ())
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--host") from None
    for hint, targets in (("--log-target", log_target), ("--admin-log-target", admin_log_target)):
        for text in targets or ():
            try:
                parse_target(text)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint=hint) from None
    try:
        run_server(
            ServerSettings(
                state_dir=state_dir or default_state_dir(),
                listen=listen,
                auth=auth,
                driver=driver or default_driver(),
                prefix=prefix,
                vip_cidr=vip_cidr,
                workers=workers,
                haproxy_threads=haproxy_threads,
                default_topology=default_topology,
                policy_file=policy_file,
                heartbeat_listen=heartbeat_listen,
                heartbeat_interval_s=heartbeat_interval,
                heartbeat_timeout_s=heartbeat_timeout,
                spare_pool=spare_pool,
                usage_interval_s=usage_interval,
                vrrp_timing=vrrp_timing.value,
                webhook_attempts=webhook_attempts,
                webhook_backoff_s=webhook_backoff,
                webhook_allow=webhook_allow,
                hosts=hosts,
                log_retention_hours=log_retention_hours,
                log_max_rows=log_max_rows,
                log_targets=tuple(log_target or ()),
                admin_log_targets=tuple(admin_log_target or ()),
                connection_logging=connection_logging,
            )
        )
    except PolicyError as exc:
        typer.echo(f"steelyard: policy: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def demo(
    url: Url = "http://127.0.0.1:9876",
    requests: Annotated[int, typer.Option(min=1, max=1000)] = 9,
    project: Annotated[str, typer.Option(help="project (noauth)")] = "demo",
    token: Annotated[str | None, typer.Option(envvar="STEELYARD_TOKEN")] = None,
) -> None:
    """Create a load balancer in front of three local backends, send traffic, clean up."""
    from steelyard.cli.api_client import SteelyardApi
    from steelyard.cli.demo import run_demo

    api = SteelyardApi(url, token=token, project=project)
    try:
        run_demo(api, requests, console)
    finally:
        api.close()


@keys_app.command("create")
def keys_create(
    project: Annotated[str, typer.Option(help="project the key acts for")],
    role: Annotated[str, typer.Option(help="reader, member or admin")] = "member",
    description: Annotated[str, typer.Option()] = "",
    state_dir: StateDir = None,
) -> None:
    """Create an API key and print it once (only a hash is stored)."""
    from steelyard.server.admin import create_key

    if role not in ("reader", "member", "admin"):
        raise typer.BadParameter("role must be reader, member or admin")
    key = create_key(state_dir or default_state_dir(), project, role, description)
    typer.echo(key)


@app.command()
def cleanup(
    state_dir: StateDir = None,
    prefix: Annotated[str, typer.Option(help="prefix of namespaces and links")] = "sy",
) -> None:
    """Stop every HAProxy of this state directory and remove the prefix's namespaces and links
    (after a crash, or to tear a test or demo host down)."""
    from steelyard.server.admin import cleanup_host

    for line in cleanup_host(state_dir or default_state_dir(), prefix):
        typer.echo(line)

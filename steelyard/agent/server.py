"""The agent's REST API (see contract.py), served over mutual TLS by uvicorn.

Handlers are plain `def`s: FastAPI runs them in its thread pool, and each appliance's lock
serialises what must not overlap (one apply at a time per appliance, any number across them).
"""

import logging
import ssl
import time
from importlib import metadata
from pathlib import Path
from typing import Annotated

import uvicorn
from fastapi import Body, FastAPI, HTTPException, Query, Response
from fastapi.responses import JSONResponse

from steelyard.agent.appliance import Appliance, ApplianceGone, ApplyFailed, NotRunning
from steelyard.agent.connectivity import probe_all
from steelyard.agent.contract import (
    AgentInfo,
    ApplianceCreate,
    ApplianceInfo,
    ApplyError,
    ApplyResult,
    ConfigApply,
    ProtectionStats,
    StatRow,
    VrrpRelease,
    VrrpReleaseRequest,
)
from steelyard.agent.diagnostics import SectionUnavailable, collect, running_targets
from steelyard.agent.haproxy_process import DEFAULT_BINARY, haproxy_version
from steelyard.agent.heartbeat import DEFAULT_INTERVAL_S, HeartbeatSender
from steelyard.agent.layout import layout_for, valid_name
from steelyard.agent.log_receiver import start_agent_logs
from steelyard.agent.log_records import MAX_LOG_BATCH
from steelyard.agent.netns import netns_exists, parse_address
from steelyard.agent.pki import PkiPaths, certificate_not_after
from steelyard.agent.protection_stats import ProtectionReader
from steelyard.agent.registry import ApplianceRegistry, NetnsConflict
from steelyard.agent.runtime_api import RuntimeApiError
from steelyard.model.diagnostics import (
    ApplianceDiagnostics,
    ConnectivityReport,
    ConnectivityRequest,
)
from steelyard.model.heartbeat import HeartbeatKey

log = logging.getLogger("steelyard.agent")


def agent_version() -> str:
    try:
        return metadata.version("steelyard")
    except metadata.PackageNotFoundError:
        return "0.0.0+unknown"


def create_agent_app(
    state_dir: Path, *, pki: PkiPaths | None = None, haproxy_bin: Path = DEFAULT_BINARY
) -> FastAPI:
    registry = ApplianceRegistry(state_dir.resolve(), binary=haproxy_bin)
    version = haproxy_version(haproxy_bin)
    app = FastAPI(title="Steelyard appliance agent", docs_url=None, redoc_url=None)
    app.state.registry = registry
    protection_reader = ProtectionReader()
    logs = start_agent_logs(
        ((name, found.layout) for name in registry.names() if (found := registry.get(name))),
        # Not the registry: it logs while holding its lock. Its directory says it exists.
        lambda name: layout_for(registry.state_dir, name).root.is_dir(),
    )
    app.state.logs = logs

    def appliance(name: str) -> Appliance:
        _check_name(name)
        found = registry.get(name)
        if found is None:
            raise HTTPException(404, f"no appliance {name}")
        return found

    @app.get("/v1/info")
    def info() -> AgentInfo:
        return AgentInfo(
            agent_version=agent_version(),
            haproxy_version=version,
            appliances=registry.names(),
            server_cert_not_after=certificate_not_after(pki.server_cert) if pki else None,
            ca_cert_not_after=certificate_not_after(pki.ca_cert) if pki else None,
        )

    @app.put("/v1/appliances/{name}")
    def ensure_appliance(
        name: str, body: Annotated[ApplianceCreate, Body()] = ApplianceCreate()
    ) -> ApplianceInfo:
        _check_name(name)
        if body.netns is not None and not netns_exists(body.netns):
            raise HTTPException(400, f"network namespace {body.netns} does not exist")
        try:
            ensured = registry.ensure(name, body.netns, tuple(body.heartbeat_to))
        except NetnsConflict as exc:
            raise HTTPException(409, str(exc)) from exc
        logs.receiver.open(name, ensured.layout)
        return ensured.info()

    @app.get("/v1/appliances/{name}")
    def get_appliance(name: str) -> ApplianceInfo:
        return appliance(name).info()

    @app.delete("/v1/appliances/{name}", status_code=204)
    def delete_appliance(name: str) -> Response:
        _check_name(name)
        if not registry.delete(name):
            raise HTTPException(404, f"no appliance {name}")
        logs.receiver.close(name)
        logs.buffer.forget(name)
        return Response(status_code=204)

    @app.get("/v1/logs", response_class=Response)
    def read_logs(
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_LOG_BATCH)] = 1000,
    ) -> Response:
        # Serialized here, not through a response model: one row per request (log_records.py).
        body = logs.buffer.read(after, limit).to_json()
        return Response(body, media_type="application/json")

    @app.put(
        "/v1/appliances/{name}/config",
        response_model=ApplyResult,
        responses={400: {"model": ApplyError}},
    )
    def apply_config(name: str, body: ConfigApply) -> ApplyResult | JSONResponse:
        target = appliance(name)
        try:
            verify = [parse_address(text) for text in body.verify_listeners]
        except ValueError as exc:
            raise HTTPException(422, f"verify_listeners: {exc}") from exc
        try:
            return target.apply(
                body.generation, body.haproxy_cfg, verify, body.files, body.keepalived_cfg
            )
        except ApplyFailed as exc:
            log.warning("%s: generation %d refused: %s", name, body.generation, exc)
            return JSONResponse(status_code=400, content=exc.error.model_dump(mode="json"))
        except ApplianceGone as exc:
            raise HTTPException(404, f"no appliance {name}") from exc

    @app.get("/v1/appliances/{name}/stats")
    def stats(name: str) -> list[StatRow]:
        try:
            return appliance(name).stats()
        except NotRunning as exc:
            raise HTTPException(409, f"HAProxy is not running: {exc}") from exc

    @app.get("/v1/appliances/{name}/protection")
    def protection(name: str) -> ProtectionStats:
        # Read-only, so no appliance lock: a reload meanwhile at worst answers for either config.
        target = appliance(name)
        if target.process.master_pid() is None:
            raise HTTPException(409, f"HAProxy is not running: {name}")
        try:
            return protection_reader.read(target.runtime, target.layout.cfg.read_text())
        except (OSError, RuntimeApiError) as exc:
            raise HTTPException(409, f"HAProxy's tables could not be read: {exc}") from exc

    @app.post("/v1/appliances/{name}/vrrp/release")
    def release_vrrp(
        name: str, body: Annotated[VrrpReleaseRequest, Body()] = VrrpReleaseRequest()
    ) -> VrrpRelease:
        try:
            return appliance(name).release_vrrp(body.drain_timeout_s)
        except NotRunning as exc:
            raise HTTPException(409, str(exc)) from exc
        except ApplianceGone as exc:
            raise HTTPException(404, f"no appliance {name}") from exc

    @app.get("/v1/appliances/{name}/diagnostics")
    def diagnostics(name: str) -> ApplianceDiagnostics:
        return collect(appliance(name))

    @app.post("/v1/appliances/{name}/connectivity")
    def connectivity(
        name: str, body: Annotated[ConnectivityRequest, Body()] = ConnectivityRequest()
    ) -> ConnectivityReport:
        target = appliance(name)
        start = time.perf_counter()
        targets = body.targets
        if targets is None:
            try:
                targets = running_targets(target)
            except (OSError, RuntimeApiError, ValueError, SectionUnavailable) as exc:
                raise HTTPException(409, f"no servers to test: {exc}") from exc
        return ConnectivityReport(
            appliance=name,
            netns=target.netns,
            source="request" if body.targets is not None else "running_config",
            timeout_s=body.timeout_s,
            results=probe_all(targets, target.netns, body.timeout_s, body.concurrency),
            duration_ms=round((time.perf_counter() - start) * 1000, 3),
        )

    # Anything else under /v1/appliances/ (a name with "/", "..", ...) is a bad name, not a
    # missing route: registered last, so that it only sees what the routes above did not take.
    @app.api_route("/v1/appliances/{rest:path}", methods=["GET", "PUT", "POST", "DELETE"])
    def bad_name(rest: str) -> None:
        raise HTTPException(400, "invalid appliance name")

    return app


def run_agent(
    listen_host: str,
    listen_port: int,
    state_dir: Path,
    pki: PkiPaths,
    *,
    haproxy_bin: Path = DEFAULT_BINARY,
    heartbeat_key: HeartbeatKey | None = None,
    heartbeat_interval_s: float = DEFAULT_INTERVAL_S,
) -> None:
    """Serve the agent API until SIGTERM/SIGINT, requiring client certificates from our CA;
    with a heartbeat key, send heartbeats meanwhile."""
    app = create_agent_app(state_dir, pki=pki, haproxy_bin=haproxy_bin)
    sender = None
    if heartbeat_key is not None:
        sender = HeartbeatSender(app.state.registry, heartbeat_key, heartbeat_interval_s)
        sender.start()
    try:
        uvicorn.Server(_uvicorn_config(app, listen_host, listen_port, pki)).run()
    finally:
        if sender is not None:
            sender.stop()


def agent_uvicorn_config(
    listen_host: str,
    listen_port: int,
    state_dir: Path,
    pki: PkiPaths,
    haproxy_bin: Path = DEFAULT_BINARY,
) -> uvicorn.Config:
    return _uvicorn_config(
        create_agent_app(state_dir, pki=pki, haproxy_bin=haproxy_bin), listen_host, listen_port, pki
    )


def _uvicorn_config(
    app: FastAPI, listen_host: str, listen_port: int, pki: PkiPaths
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=listen_host,
        port=listen_port,
        ssl_certfile=str(pki.server_cert),
        ssl_keyfile=str(pki.server_key),
        ssl_ca_certs=str(pki.ca_cert),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
        lifespan="off",
        ws="none",
        access_log=False,
        log_config=None,  # the agent's own logging setup stays in force
        timeout_graceful_shutdown=10,
    )


def _check_name(name: str) -> None:
    if not valid_name(name):
        raise HTTPException(400, "invalid appliance name")

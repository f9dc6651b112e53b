"""The controller's client for the agent API (mutual TLS, one keep-alive connection pool).

Exceptions:

    AgentError                the agent answered with an unexpected status, or not at all
     ├── AgentUnreachable     no answer (connection refused, TLS refused, timeout)
     └── AgentApplyError      400 on a config apply; `.error` is the agent's ApplyError

No retries here: the controller is level-triggered and retries by reconciling again.
"""

import ssl
from collections.abc import Sequence
from types import TracebackType

import httpx
from pydantic import TypeAdapter, ValidationError

from steelyard.agent.contract import (
    DRAIN_TIMEOUT_S,
    AgentInfo,
    ApplianceCreate,
    ApplianceInfo,
    ApplyError,
    ApplyResult,
    ConfigApply,
    ListenerProtection,
    ProtectionStats,
    StatRow,
    VrrpRelease,
    VrrpReleaseRequest,
)
from steelyard.agent.layout import valid_name
from steelyard.agent.log_records import LogBatch, LogBatchError
from steelyard.model.diagnostics import (
    ApplianceDiagnostics,
    ConnectivityReport,
    ConnectivityRequest,
)

_STAT_ROWS = TypeAdapter(list[StatRow])


class AgentError(Exception):
    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class AgentUnreachable(AgentError):
    pass


class AgentApplyError(AgentError):
    def __init__(self, error: ApplyError) -> None:
        super().__init__(f"config refused ({error.stage or 'apply'}): {error.error}", 400)
        self.error = error


class AgentClient:
    def __init__(
        self,
        base_url: str,
        ssl_context: ssl.SSLContext,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        # The timeout covers a whole apply: haproxy -c, a reload and the listener checks.
        # `transport` is for tests (httpx.MockTransport); by default httpx pools connections.
        self._http = httpx.Client(
            base_url=base_url, verify=ssl_context, timeout=timeout, transport=transport
        )

    def info(self) -> AgentInfo:
        return AgentInfo.model_validate(self._json("GET", "/v1/info"))

    @property
    def address(self) -> str:
        """The host this client reaches the agent at (Octavia's lb_network_ip)."""
        return self._http.base_url.host

    def ensure_appliance(
        self, name: str, netns: str | None = None, heartbeat_to: Sequence[str] = ()
    ) -> ApplianceInfo:
        """Create or find the appliance; its heartbeat targets become `heartbeat_to` (none:
        it sends no heartbeats)."""
        body = ApplianceCreate(netns=netns, heartbeat_to=list(heartbeat_to)).model_dump()
        return ApplianceInfo.model_validate(self._json("PUT", _path(name), json=body))

    def get_appliance(self, name: str) -> ApplianceInfo | None:
        response = self._request("GET", _path(name))
        if response.status_code == 404:
            return None
        return ApplianceInfo.model_validate(_body(response))

    def delete_appliance(self, name: str) -> None:
        """Stop and remove the appliance; no error when it is already gone."""
        response = self._request("DELETE", _path(name))
        if response.status_code not in (204, 404):
            raise _unexpected(response)

    def apply_config(
        self,
        name: str,
        generation: int,
        cfg: str,
        verify_listeners: list[str] | None = None,
        *,
        files: dict[str, str] | None = None,
        keepalived_cfg: str | None = None,
    ) -> ApplyResult:
        """`files`: name -> text of the TLS files `cfg` names (see ConfigApply).
        `keepalived_cfg`: the appliance's keepalived.conf; None stops a keepalived that runs."""
        body = ConfigApply(
            generation=generation,
            haproxy_cfg=cfg,
            verify_listeners=verify_listeners or [],
            files=files or {},
            keepalived_cfg=keepalived_cfg,
        )
        response = self._request("PUT", _path(name) + "/config", json=body.model_dump())
        if response.status_code == 400:
            try:
                raise AgentApplyError(ApplyError.model_validate_json(response.content))
            except ValidationError:
                raise _unexpected(response) from None
        return ApplyResult.model_validate(_body(response))

    def stats(self, name: str) -> list[StatRow]:
        return _STAT_ROWS.validate_python(self._json("GET", _path(name) + "/stats"))

    def protection_stats(self, name: str) -> list[ListenerProtection]:
        """Rejections, tracked and top sources of each protected listener (409: not running)."""
        body = self._json("GET", _path(name) + "/protection")
        return ProtectionStats.model_validate(body).listeners

    def release_vrrp(self, name: str, drain_timeout_s: float = DRAIN_TIMEOUT_S) -> VrrpRelease:
        """A planned switchover: a MASTER drains HAProxy (at most `drain_timeout_s`), hands
        its VIPs to its peer and stays BACKUP (`released` False: it was not MASTER). 409
        (AgentError) when keepalived is not running."""
        body = VrrpReleaseRequest(drain_timeout_s=drain_timeout_s).model_dump()
        path = _path(name) + "/vrrp/release"
        return VrrpRelease.model_validate(self._json("POST", path, json=body))

    def diagnostics(self, name: str) -> ApplianceDiagnostics:
        """HAProxy's, keepalived's and the namespace's state (sections that could not be read
        are named in `errors`)."""
        return ApplianceDiagnostics.model_validate(self._json("GET", _path(name) + "/diagnostics"))

    def connectivity(self, name: str, request: ConnectivityRequest) -> ConnectivityReport:
        """Test the members from inside the appliance (409: no targets and HAProxy not
        running)."""
        body = request.model_dump(mode="json", exclude_unset=True)
        return ConnectivityReport.model_validate(
            self._json("POST", _path(name) + "/connectivity", json=body)
        )

    def logs(self, after: int = 0, limit: int = 1000) -> LogBatch:
        """Log records of every appliance of the agent numbered above `after` (a cursor of the
        batch's `epoch`), at most `limit`."""
        body = self._json("GET", f"/v1/logs?after={int(after)}&limit={int(limit)}")
        try:
            return LogBatch.from_json(body)
        except LogBatchError as exc:
            raise AgentError(f"agent answered a bad log batch: {exc}", 200) from exc

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "AgentClient":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _json(self, method: str, path: str, json: object = None) -> object:
        return _body(self._request(method, path, json=json))

    def _request(self, method: str, path: str, json: object = None) -> httpx.Response:
        try:
            return self._http.request(method, path, json=json)
        except httpx.TransportError as exc:
            raise AgentUnreachable(f"{method} {path}: {exc!r}") from exc


def _path(name: str) -> str:
    # Checked here too, so that a bad name never becomes a different URL path.
    if not valid_name(name):
        raise ValueError(f"invalid appliance name {name!r}")
    return f"/v1/appliances/{name}"


def _body(response: httpx.Response) -> object:
    if response.status_code != 200:
        raise _unexpected(response)
    try:
        return response.json()
    except ValueError as exc:
        raise AgentError(f"agent answered non-JSON: {exc}", response.status_code) from exc


def _unexpected(response: httpx.Response) -> AgentError:
    detail = response.text[:500]
    return AgentError(
        f"{response.request.method} {response.request.url.path}: {response.status_code} {detail}",
        response.status_code,
    )

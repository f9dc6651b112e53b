"""The operator API's diagnostics service (api/services.Diagnostics) over the agent client:
the agent's errors become DiagnosticsUnavailable with words an operator can act on."""

from collections.abc import Callable
from typing import TypeVar

from steelyard.agent.client import AgentClient, AgentError, AgentUnreachable
from steelyard.api.services import DiagnosticsUnavailable
from steelyard.model.diagnostics import (
    ApplianceDiagnostics,
    ConnectivityReport,
    ConnectivityRequest,
)

T = TypeVar("T")


class AgentDiagnostics:
    def __init__(self, agent: AgentClient) -> None:
        self._agent = agent

    def appliance_diagnostics(self, appliance: str) -> ApplianceDiagnostics:
        return _asked(appliance, lambda: self._agent.diagnostics(appliance))

    def connectivity(self, appliance: str, request: ConnectivityRequest) -> ConnectivityReport:
        return _asked(appliance, lambda: self._agent.connectivity(appliance, request))


def _asked(appliance: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except AgentUnreachable as exc:
        raise DiagnosticsUnavailable(f"its agent does not answer ({exc})") from exc
    except AgentError as exc:
        if exc.status_code == 404:
            raise DiagnosticsUnavailable(
                f"its agent has no appliance {appliance} (not built yet, or already removed)"
            ) from exc
        raise DiagnosticsUnavailable(f"its agent answered with an error: {exc}") from exc
    except ValueError as exc:  # an invalid name, or an answer that is not the contract's
        raise DiagnosticsUnavailable(f"no usable answer from its agent: {exc}") from exc

"""What the operator API reaches beyond the database, injected by the composition root
(steelyard.server.run): live diagnostics from the agents, the event stream, the log store...

Each is a Protocol here, so that api/ imports nothing of agent/, controller/ or telemetry/; a
field left None means this process does not offer it, and its endpoints answer 503 with
Octavia's error body. Tests build the app with the real implementations they need.
"""

from dataclasses import dataclass

from fastapi import Request


@dataclass(frozen=True)
class Services:
    """One field per service (added by the feature that needs it, with its Protocol above)."""


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services

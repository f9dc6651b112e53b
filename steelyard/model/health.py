"""The health manager's state as operators see it (GET /v2/operator/health), and the circuit
breaker as stored in the deployment settings."""

from datetime import datetime

from pydantic import BaseModel, Field

# Why the health manager dropped a datagram, or that it took it.
HEARTBEAT_OUTCOMES = ("accepted", "forged", "replayed", "unknown", "oversized", "malformed")


class CircuitBreaker(BaseModel):
    """Tripped when too many appliances went silent at once (the health manager's own network
    is then the likelier fault): no automatic failover until an operator releases it.
    `released_at`: appliances silent since before it are failed without tripping it again."""

    tripped: bool = False
    tripped_at: datetime | None = None
    released_at: datetime | None = None
    silent: int = 0  # appliances silent at the check that tripped it
    watched: int = 0
    reason: str | None = None


class HeartbeatCounts(BaseModel):
    """Datagrams since the health manager started, by outcome (see HEARTBEAT_OUTCOMES)."""

    accepted: int = 0
    forged: int = 0
    replayed: int = 0
    unknown: int = 0
    oversized: int = 0
    malformed: int = 0


class ManagerStatus(BaseModel):
    """What one health manager reported last (it writes this about once a second)."""

    manager: str
    listen: str
    updated_at: datetime
    heartbeats: HeartbeatCounts = Field(default_factory=HeartbeatCounts)
    watched: int = 0  # appliances whose heartbeats are awaited (ALLOCATED and READY)
    silent: int = 0  # of those, silent for longer than the timeout at the last check


class ApplianceCounts(BaseModel):
    watched: int
    silent: int
    failed: int  # status FAILED, waiting to be replaced


class HealthOut(BaseModel):
    circuit_breaker: CircuitBreaker
    heartbeats: HeartbeatCounts  # summed over the managers
    appliances: ApplianceCounts
    managers: list[ManagerStatus]


class HealthRoot(BaseModel):
    health: HealthOut

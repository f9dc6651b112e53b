"""Octavia's amphora statistics (GET /v2/octavia/amphorae/{id}/stats, API v2.4): one entry per
listener of the amphora's load balancer, with that appliance's share of the counters."""

from pydantic import BaseModel


class AmphoraListenerStats(BaseModel):
    id: str  # the amphora's
    loadbalancer_id: str
    listener_id: str
    active_connections: int
    bytes_in: int
    bytes_out: int
    request_errors: int
    total_connections: int


class AmphoraStatsRoot(BaseModel):
    amphora_stats: list[AmphoraListenerStats]

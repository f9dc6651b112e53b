"""Deterministic appliance names: a retried reconcile finds what it made instead of making
another (controller-runtime's habit)."""

import re

_HEX = re.compile(r"[^0-9a-f]")


def appliance_name(lb_id: str, slot: int) -> str:
    """e.g. "3f2a9c1e0b7d-0": 12 hex digits of the load balancer id, then the slot."""
    digits = _HEX.sub("", lb_id.lower())[:12]
    if len(digits) < 12:
        raise ValueError(f"load balancer id {lb_id!r} is not UUID-shaped")
    return f"{digits}-{slot}"

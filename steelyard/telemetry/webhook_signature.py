"""How webhook deliveries are signed and retried (pure: no I/O, no clock of its own).

Signature: `X-Steelyard-Signature: t=<unix seconds>,v1=<hex>` where the hex is
HMAC-SHA256(secret, "<t>." + raw body). A receiver recomputes it over the raw body it got,
compares in constant time, and refuses a `t` too far from its clock (replays): `verify` below.
Retries: attempt n (1-based) that failed waits min(cap, base * 2**(n-1)), jittered into
[50 %, 100 %] of that, before the next; after `max_attempts` the delivery is dead.
"""

import hashlib
import hmac
import random
from dataclasses import dataclass
from datetime import timedelta

SIGNATURE_HEADER = "X-Steelyard-Signature"
EVENT_ID_HEADER = "X-Steelyard-Event-Id"
DELIVERY_ID_HEADER = "X-Steelyard-Delivery-Id"
EVENT_TYPE_HEADER = "X-Steelyard-Event-Type"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, now: float, tolerance_s: float = DEFAULT_TOLERANCE_S
) -> bool:
    """Whether `header` signs `body` with `secret` at a time within `tolerance_s` of `now`."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_s: float = 2.0
    cap_s: float = 600.0

    def ceiling(self, failed_attempts: int) -> float:
        """The longest wait after the `failed_attempts`-th failure (before jitter)."""
        return min(self.cap_s, self.base_s * 2.0 ** min(failed_attempts - 1, 62))

    def retry_in(self, failed_attempts: int, rng: random.Random) -> timedelta | None:
        """The wait before the next attempt; None once every attempt is spent."""
        if failed_attempts >= self.max_attempts:
            return None
        ceiling = self.ceiling(failed_attempts)
        return timedelta(seconds=ceiling * (0.5 + rng.random() / 2))

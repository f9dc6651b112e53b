"""The webhook dispatcher: a thread that sends due deliveries (queued with their events, see
db/events.py) as signed JSON POSTs, and records each attempt: delivered, retried later with
backoff and jitter, or dead (a `webhook.dead_letter` event, the delivery kept for a retry).

The body is `{"event": {...}}`, the event as operators see it (GET /v2/operator/events).
Only 2xx counts as delivered; redirects are not followed (the operator named the URL).
"""

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx
from sqlalchemy.orm import Session

from steelyard.db.secret_box import SecretBox, SecretBoxError
from steelyard.db.webhooks import Attempt, DueDelivery, claim_due, record_attempt, seal_context
from steelyard.model.webhook import Network, destination_refused
from steelyard.telemetry.webhook_signature import (
    DELIVERY_ID_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    RetryPolicy,
    signature_header,
)

log = logging.getLogger(__name__)
BATCH = 32
SENDERS = 4
USER_AGENT = "Steelyard-Webhook/1"


def delivery_body(due: DueDelivery) -> bytes:
    event = due.event.model_dump(mode="json")
    return json.dumps({"event": event}, separators=(",", ":"), sort_keys=True).encode()


class WebhookDispatcher:
    """Also what the API's Services.webhooks reaches: `check_url` before a webhook is saved,
    `wake` after a write queued something to send now."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        box: SecretBox,
        clock: Callable[[], datetime],
        policy: RetryPolicy = RetryPolicy(),
        allowed: Sequence[Network] | None = None,
        timeout_s: float = 5.0,
        poll_s: float = 0.25,
        transport: httpx.BaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._clock = clock
        self._policy = policy
        self._allowed = None if allowed is None else tuple(allowed)
        self._poll_s = poll_s
        # The lease outlasts a send: a claimed delivery is not claimed again while in flight.
        self._lease = timedelta(seconds=timeout_s * 2 + 5)
        self._rng = rng or random.Random()
        self._client = httpx.Client(
            timeout=timeout_s, follow_redirects=False, transport=transport, trust_env=False
        )
        self._senders = ThreadPoolExecutor(SENDERS, thread_name_prefix="webhook-send")
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-dispatcher", daemon=True)

    def check_url(self, url: str) -> str | None:
        return destination_refused(url, self._allowed)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=30)
        self._senders.shutdown(wait=True)
        self._client.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = self.run_once() == BATCH
            except Exception:
                log.exception("delivering webhooks failed")
                busy = False
            if not busy:
                self._wake.wait(self._poll_s)
                self._wake.clear()

    def run_once(self) -> int:
        """Send what is due (at most one batch) and record how it went; how many were sent."""
        with self._sessions() as session:
            due = claim_due(session, self._clock(), self._lease, BATCH)
            session.commit()
        if not due:
            return 0
        attempts = list(self._senders.map(self._send, due))
        with self._sessions() as session:
            for delivery, attempt in zip(due, attempts, strict=True):
                retry_in = (
                    None
                    if attempt.ok or attempt.final
                    else self._policy.retry_in(delivery.attempts + 1, self._rng)
                )
                if record_attempt(session, delivery.delivery_id, attempt, retry_in, self._clock()):
                    log.warning("webhook delivery %s is dead: %s", delivery.delivery_id, attempt)
            session.commit()
        return len(due)

    def _send(self, due: DueDelivery) -> Attempt:
        refused = self.check_url(due.url)
        if refused is not None:
            return Attempt(False, None, refused, final=True)
        try:
            secret = self._box.open(due.secret_sealed, seal_context(due.webhook_id))
        except SecretBoxError:
            error = "the webhook's secret cannot be opened (the key changed?)"
            return Attempt(False, None, error, final=True)
        body = delivery_body(due)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature_header(secret, int(time.time()), body),
            EVENT_ID_HEADER: due.event.id,
            EVENT_TYPE_HEADER: due.event.type,
            DELIVERY_ID_HEADER: due.delivery_id,
        }
        try:
            answer = self._client.post(due.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Attempt(False, None, f"{type(exc).__name__}: {exc}")
        if 200 <= answer.status_code < 300:
            return Attempt(True, answer.status_code)
        return Attempt(False, answer.status_code, f"HTTP {answer.status_code}")

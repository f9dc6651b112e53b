"""Webhook signatures (what a receiver checks) and the retry schedule."""

import random
from datetime import timedelta

from steelyard.telemetry.webhook_signature import RetryPolicy, signature_header, verify

SECRET = "s3cret-s3cret-s3cret"
BODY = b'{"event":{"id":"e1"}}'
T = 1_790_000_000


def test_a_receiver_verifies_what_was_signed() -> None:
    header = signature_header(SECRET, T, BODY)
    assert header.startswith(f"t={T},v1=") and len(header.split("v1=")[1]) == 64
    assert verify(SECRET, header, BODY, now=T + 10)


def test_another_body_secret_or_time_fails() -> None:
    header = signature_header(SECRET, T, BODY)
    assert not verify(SECRET, header, BODY + b" ", now=T)
    assert not verify("another-secret-entirely", header, BODY, now=T)
    assert not verify(SECRET, header, BODY, now=T + 301)  # a replay, later
    moved = header.replace(f"t={T}", f"t={T + 1}")  # the timestamp is signed too
    assert not verify(SECRET, moved, BODY, now=T)


def test_malformed_headers_fail_without_raising() -> None:
    for header in ("", "v1=abc", "t=x,v1=abc", "t=,v1=", "garbage", "t=1\n,v1=2"):
        assert not verify(SECRET, header, BODY, now=T)


def test_backoff_doubles_up_to_the_cap_and_jitters_within_half() -> None:
    policy = RetryPolicy(max_attempts=20, base_s=2.0, cap_s=600.0)
    assert [policy.ceiling(n) for n in range(1, 7)] == [2, 4, 8, 16, 32, 64]
    assert policy.ceiling(30) == 600.0
    rng = random.Random(7)
    for failed in range(1, 20):
        wait = policy.retry_in(failed, rng)
        assert wait is not None
        ceiling = timedelta(seconds=policy.ceiling(failed))
        assert ceiling / 2 <= wait <= ceiling


def test_the_last_attempt_gives_up() -> None:
    policy = RetryPolicy(max_attempts=3, base_s=1.0)
    rng = random.Random(1)
    assert policy.retry_in(1, rng) is not None
    assert policy.retry_in(2, rng) is not None
    assert policy.retry_in(3, rng) is None

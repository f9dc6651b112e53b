"""Which appliances have failed, and when the circuit breaker holds failover back."""

from datetime import datetime, timedelta

import pytest

from steelyard.health.staleness import HealthPolicy, Watched, judge, silent_since
from steelyard.model.health import CircuitBreaker

T0 = datetime(2026, 1, 1, 12, 0, 0)
POLICY = HealthPolicy()  # timeout 3 s, grace x3, breaker above half and at least 3
OPEN = CircuitBreaker()


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def watched(
    name: str = "a-0",
    last: float | None = 0.0,
    since: float = -100.0,
    down: float | None = None,
    lb: str | None = "lb",
) -> Watched:
    return Watched(
        appliance_id=f"id-{name}",
        name=name,
        loadbalancer_id=lb,
        last_heartbeat_at=None if last is None else s(last),
        watched_since=s(since),
        haproxy_down_since=None if down is None else s(down),
    )


@pytest.mark.parametrize(
    ("appliance", "now", "silent"),
    [
        (watched(last=0), 2.9, False),
        (watched(last=0), 3.0, False),  # exactly at the timeout: not yet
        (watched(last=0), 3.1, True),
        (watched(last=None, since=0), 8.9, False),  # never heard: grace of 3 x 3 s
        (watched(last=None, since=0), 9.1, True),
        # heard before it was (re)watched, e.g. a spare just allocated or a manager restart
        (watched(last=-50, since=0), 5.0, False),
        (watched(last=-50, since=0), 9.1, True),
        (watched(last=1, since=0), 4.1, True),  # heard since: the normal timeout again
    ],
)
def test_silence(appliance: Watched, now: float, silent: bool) -> None:
    assert (silent_since(appliance, s(now), POLICY) is not None) is silent


def test_silence_starts_at_the_deadline() -> None:
    assert silent_since(watched(last=0), s(10), POLICY) == s(3)
    assert silent_since(watched(last=None, since=0), s(10), POLICY) == s(9)


@pytest.mark.parametrize(
    ("appliance", "now", "reason"),
    [
        (watched(last=0), 3.5, "no heartbeat for 3.5 s (timeout 3 s)"),
        (watched(last=None, since=0), 9.5, "no heartbeat in the 9.5 s since it was created"),
        (watched(last=3, down=0), 3.5, "HAProxy not running for 3.5 s"),
    ],
)
def test_failures_say_why(appliance: Watched, now: float, reason: str) -> None:
    verdict = judge([appliance], s(now), POLICY, OPEN)
    assert len(verdict.failed) == 1 and verdict.failed[0].reason.startswith(reason)
    assert not verdict.trip


def test_haproxy_down_for_less_than_the_timeout_is_not_a_failure() -> None:
    verdict = judge([watched(last=3, down=1)], s(3.5), POLICY, OPEN)
    assert verdict.failed == () and verdict.silent == ()


def test_a_silent_appliance_is_failed_once_not_also_for_its_haproxy() -> None:
    verdict = judge([watched(last=0, down=-10)], s(5), POLICY, OPEN)
    assert len(verdict.failed) == 1 and verdict.failed[0].reason.startswith("no heartbeat")


def fleet(alive: int, silent: int) -> list[Watched]:
    return [watched(f"ok-{i}", last=10) for i in range(alive)] + [
        watched(f"quiet-{i}", last=0) for i in range(silent)
    ]


@pytest.mark.parametrize(
    ("alive", "silent", "trip"),
    [
        (10, 1, False),
        (5, 5, False),  # half is not more than half
        (4, 6, True),
        (1, 2, False),  # two thirds, but fewer than three
        (0, 2, False),
        (0, 3, True),
        (3, 3, False),
        (2, 3, True),
    ],
)
def test_the_breaker_trips_when_more_than_half_and_at_least_three_fall_silent(
    alive: int, silent: int, trip: bool
) -> None:
    verdict = judge(fleet(alive, silent), s(11), POLICY, OPEN)
    assert verdict.trip is trip
    assert len(verdict.silent) == silent
    assert len(verdict.failed) == (0 if trip else silent)


def test_share_and_minimum_are_settings() -> None:
    policy = HealthPolicy(breaker_share=0.2, breaker_min=1)
    assert judge(fleet(4, 1), s(11), policy, OPEN).trip is False  # 1 of 5 is not more than 20 %
    assert judge(fleet(3, 1), s(11), policy, OPEN).trip is True


def test_while_tripped_nothing_is_failed_and_recovered_appliances_are_fine() -> None:
    tripped = CircuitBreaker(tripped=True, tripped_at=s(5))
    verdict = judge(
        [*fleet(0, 4), watched("dead-haproxy", last=10, down=0)], s(11), POLICY, tripped
    )
    assert verdict.failed == () and not verdict.trip
    assert len(verdict.silent) == 4
    back = judge(fleet(4, 0), s(11), POLICY, tripped)
    assert back.silent == () and back.failed == () and not back.trip


def test_after_a_release_those_silent_before_it_are_failed_without_tripping_again() -> None:
    released = CircuitBreaker(tripped=False, tripped_at=s(5), released_at=s(8))
    verdict = judge(fleet(1, 4), s(11), POLICY, released)
    assert not verdict.trip
    assert sorted(f.appliance.name for f in verdict.failed) == [f"quiet-{i}" for i in range(4)]


def test_after_a_release_a_new_mass_silence_trips_it_again() -> None:
    released = CircuitBreaker(tripped=False, tripped_at=s(5), released_at=s(8))
    later = [watched(f"n-{i}", last=20) for i in range(4)] + [watched("ok", last=30)]
    assert judge(later, s(30), POLICY, released).trip is True

from steelyard.controller.observer import StatusObserver, counter_delta
from steelyard.db import models as m
from steelyard.db.counters import Traffic
from tests.unit.dbrows import T0, Sessions, add_lb


def test_counters_gain_since_last_observation() -> None:
    delta = counter_delta(
        Traffic(100, 200, 3, 10, 1, hrsp_2xx=7), Traffic(150, 260, 1, 12, 1, hrsp_2xx=9)
    )
    assert (delta.bytes_in, delta.bytes_out, delta.total_connections) == (50, 60, 2)
    assert (delta.request_errors, delta.active_connections, delta.hrsp_2xx) == (0, 1, 2)


def test_counters_that_drop_mean_haproxy_restarted_and_count_from_zero() -> None:
    delta = counter_delta(Traffic(100, 200, 3, 10, 1), Traffic(7, 9, 0, 2, 0))
    assert (delta.bytes_in, delta.bytes_out, delta.total_connections) == (7, 9, 2)


def test_one_counter_that_drops_restarts_them_all() -> None:
    """After a reload the new process's 4xx count may already exceed the old one's: the drop
    of any counter says the whole row is new."""
    before = Traffic(bytes_in=1000, total_connections=50, hrsp_4xx=1)
    after = Traffic(bytes_in=10, total_connections=2, hrsp_4xx=2)
    assert counter_delta(before, after) == after


def test_first_observation_counts_everything() -> None:
    delta = counter_delta(None, Traffic(5, 6, 1, 2, 3))
    assert (delta.bytes_in, delta.total_connections, delta.request_errors) == (5, 2, 3)


class SilentAgent:
    """Test double of the agent port: an appliance that reports itself not running."""

    def __init__(self) -> None:
        self.asked = 0

    def get_appliance(self, name: str) -> None:
        self.asked += 1
        return None


def test_an_appliance_seen_down_twice_is_resynced_once_is_not(sessions: Sessions) -> None:
    lb_id = add_lb(sessions, desired=3, applied=3)
    resynced: list[str] = []
    agent = SilentAgent()
    observer = StatusObserver(
        sessions,
        agent,  # type: ignore[arg-type]  # only get_appliance is reached on this path
        lambda: T0,
        on_resync=resynced.append,
    )
    observer.observe_one(lb_id, "app-0")
    with sessions() as s:
        assert s.get_one(m.LoadBalancer, lb_id).applied_generation == 3  # a reload, maybe
    assert resynced == []
    observer.observe_one(lb_id, "app-0")
    with sessions() as s:
        lb = s.get_one(m.LoadBalancer, lb_id)
        assert (lb.applied_generation, lb.operating_status) == (0, "ERROR")
    assert resynced == [lb_id] and agent.asked == 2

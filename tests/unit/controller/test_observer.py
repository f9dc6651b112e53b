from steelyard.controller.observer import counter_delta
from steelyard.controller.statuses import ListenerCounters


def test_counters_gain_since_last_observation() -> None:
    delta = counter_delta(
        ListenerCounters(100, 200, 3, 10, 1), ListenerCounters(150, 260, 1, 12, 1)
    )
    assert (delta.bytes_in, delta.bytes_out, delta.total_connections) == (50, 60, 2)
    assert (delta.request_errors, delta.active_connections) == (0, 1)


def test_counters_that_drop_mean_haproxy_restarted_and_count_from_zero() -> None:
    delta = counter_delta(ListenerCounters(100, 200, 3, 10, 1), ListenerCounters(7, 9, 0, 2, 0))
    assert (delta.bytes_in, delta.bytes_out, delta.total_connections) == (7, 9, 2)


def test_first_observation_counts_everything() -> None:
    delta = counter_delta(None, ListenerCounters(5, 6, 1, 2, 3))
    assert (delta.bytes_in, delta.total_connections, delta.request_errors) == (5, 2, 3)

from steelyard.controller.breach import BreachTracker


def feed(tracker: BreachTracker, totals: list[int]) -> list[str | None]:
    return [tracker.observe("l1", t) for t in totals]


def test_sustained_rejections_raise_one_breach_then_one_calm() -> None:
    tracker = BreachTracker(threshold=10, sustain=3)
    seen = feed(tracker, [0, 20, 40, 60, 80, 100, 100, 100, 100, 100])
    assert seen == [None, None, None, "breach", None, None, None, None, "calm", None]


def test_a_short_burst_is_not_a_breach() -> None:
    tracker = BreachTracker(threshold=10, sustain=3)
    assert feed(tracker, [0, 50, 100, 100, 150, 200, 200]) == [None] * 7


def test_counter_reset_counts_from_zero() -> None:
    tracker = BreachTracker(threshold=10, sustain=2)
    assert feed(tracker, [1000, 20, 40]) == [None, None, "breach"]


def test_listeners_are_tracked_apart_and_forgotten() -> None:
    tracker = BreachTracker(threshold=10, sustain=1)
    assert tracker.observe("a", 0) is None
    assert tracker.observe("b", 0) is None
    assert tracker.observe("a", 50) == "breach"
    assert tracker.observe("b", 5) is None
    tracker.forget({"b"})
    assert tracker.observe("a", 500) is None  # first sight again

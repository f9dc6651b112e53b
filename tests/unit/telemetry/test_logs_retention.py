"""The retention planner: by age always, by key beyond the row limit."""

from datetime import datetime, timedelta

from steelyard.telemetry.logs_retention import PrunePlan, Retention, plan_prune

NOW = datetime(2026, 11, 26, 5, 0)


def test_age_only_under_the_row_limit() -> None:
    plan = plan_prune(NOW, Retention(timedelta(hours=2), 100), rows=100, newest_id=500)
    assert plan == PrunePlan(older_than=datetime(2026, 11, 26, 3, 0), ids_up_to=None)


def test_beyond_the_row_limit_the_oldest_keys_go() -> None:
    plan = plan_prune(NOW, Retention(timedelta(hours=2), 100), rows=150, newest_id=500)
    assert plan.ids_up_to == 400  # keys 401..500 stay: at most 100 rows, gaps or not


def test_an_empty_table() -> None:
    assert plan_prune(NOW, Retention(), rows=0, newest_id=None).ids_up_to is None

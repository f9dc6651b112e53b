"""How much of the log tables to keep: pure planning, the collector applies it.

Rows older than the retention age go, and beyond the row limit the oldest go: keys only grow
(AUTOINCREMENT), so keeping the keys above `newest - max_rows` keeps at most `max_rows` rows.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_RETENTION_HOURS = 72.0
DEFAULT_MAX_ROWS = 1_000_000  # per table (flow logs; admin logs)


@dataclass(frozen=True)
class Retention:
    max_age: timedelta = timedelta(hours=DEFAULT_RETENTION_HOURS)
    max_rows: int = DEFAULT_MAX_ROWS


@dataclass(frozen=True)
class PrunePlan:
    older_than: datetime  # delete rows created before this
    ids_up_to: int | None  # and rows keyed up to this (None: under the row limit)


def plan_prune(now: datetime, retention: Retention, rows: int, newest_id: int | None) -> PrunePlan:
    """What to delete from a table holding `rows` rows, the newest keyed `newest_id`."""
    over = newest_id is not None and rows > retention.max_rows
    return PrunePlan(
        older_than=now - retention.max_age,
        ids_up_to=newest_id - retention.max_rows if over and newest_id is not None else None,
    )

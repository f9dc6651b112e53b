"""The migrated-SQLite fixture shared with the controller-side tests."""

from tests.unit.dbrows import sessions

__all__ = ["sessions"]

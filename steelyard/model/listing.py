"""What a list request asks for, parsed from the query string (Octavia's pagination,
sorting and filtering parameters)."""

from dataclasses import dataclass
from typing import Literal

Direction = Literal["asc", "desc"]


@dataclass(frozen=True)
class ListQuery:
    limit: int
    marker: str | None = None
    page_reverse: bool = False
    sort: tuple[tuple[str, Direction], ...] = ()
    # attribute -> accepted values (a repeated parameter means any of them)
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()

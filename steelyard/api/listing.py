"""List requests: Octavia's query parameters in, `<resource>_links` out."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError

from steelyard.api.deps import requested_fields, select_fields
from steelyard.api.settings import ApiSettings
from steelyard.db.listing import TAG_FILTERS
from steelyard.model.faults import BadRequest, echo
from steelyard.model.fields import Text
from steelyard.model.listing import Direction, ListQuery

CONTROL = ("limit", "marker", "page_reverse", "sort", "sort_key", "sort_dir", "fields")
MAX_FILTER_TAGS = 100  # per tag filter; an object has at most 100 tags
_TAG = TypeAdapter(Text)  # what a tag may be


def _direction(text: str) -> Direction:
    value = text.strip().lower()
    if value == "asc":
        return "asc"
    if value == "desc":
        return "desc"
    raise BadRequest(f"Supplied sort direction '{echo(text)}' is not valid.")


def _sort(request: Request) -> tuple[tuple[str, Direction], ...]:
    params = request.query_params
    keys: list[tuple[str, Direction]] = []
    for value in params.getlist("sort"):
        for item in value.split(","):
            name, _, direction = item.partition(":")
            keys.append((name.strip(), _direction(direction or "asc")))
    names = [n for v in params.getlist("sort_key") for n in v.split(",")]
    directions = [d for v in params.getlist("sort_dir") for d in v.split(",")]
    if len(directions) > len(names):
        raise BadRequest("The number of sort_dir and sort_key parameters differ.")
    directions += ["asc"] * (len(names) - len(directions))
    keys += [
        (name.strip(), _direction(direction))
        for name, direction in zip(names, directions, strict=True)
    ]
    return tuple(keys)


def _limit(request: Request, settings: ApiSettings) -> int:
    text = request.query_params.get("limit")
    if text is None:
        return settings.pagination_max_limit
    try:
        limit = int(text)
    except ValueError:
        raise BadRequest(f"Supplied pagination limit '{echo(text)}' is not valid.") from None
    if limit < 1:
        return settings.pagination_max_limit
    return min(limit, settings.pagination_max_limit)


def _flag(text: str | None, name: str) -> bool:
    if text is None or text.lower() in ("false", "0", "no", ""):
        return False
    if text.lower() in ("true", "1", "yes"):
        return True
    raise BadRequest(f"Invalid value {echo(text)} for {name}.")


def _tags(name: str, values: list[str]) -> list[str]:
    """A tag filter's tags: comma-separated, from every repetition of the parameter, each
    once. Values that no tag could be (too long, control characters) are refused."""
    tags = list(dict.fromkeys(tag for value in values for tag in value.split(",")))
    for tag in tags:
        try:
            _TAG.validate_python(tag)
        except ValidationError:
            raise BadRequest(f"Invalid value {echo(tag)} for filter {name}.") from None
    if len(tags) > MAX_FILTER_TAGS:
        raise BadRequest(f"Filter {name} names more than {MAX_FILTER_TAGS} tags.")
    return tags


def list_query(request: Request, settings: ApiSettings, special: Sequence[str] = ()) -> ListQuery:
    """The list parameters; those named in `special` are the caller's, not filters."""
    filters: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if name not in CONTROL and name not in special:
            filters.setdefault(name, []).append(value)
    for name in TAG_FILTERS:
        if name in filters:
            filters[name] = _tags(name, filters[name])
    return ListQuery(
        limit=_limit(request, settings),
        marker=request.query_params.get("marker"),
        page_reverse=_flag(request.query_params.get("page_reverse"), "page_reverse"),
        sort=_sort(request),
        filters=tuple((name, tuple(values)) for name, values in filters.items()),
    )


def flag(request: Request, name: str) -> bool:
    return _flag(request.query_params.get(name), name)


def time_param(request: Request, name: str) -> datetime | None:
    """An ISO 8601 time (`2026-12-01T10:00:00Z`) as naive UTC; without an offset it is UTC."""
    text = request.query_params.get(name)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # overflow: an offset that leaves year 1..9999
        raise BadRequest(f"Invalid value {echo(text)} for {name}.") from None
    return value


def _links(
    request: Request, settings: ApiSettings, query: ListQuery, ids: list[str]
) -> list[dict[str, str]]:
    if not ids:
        return []
    base = (settings.public_url or str(request.base_url)).rstrip("/") + request.url.path
    kept = [
        (name, value)
        for name, value in request.query_params.multi_items()
        if name not in ("limit", "marker", "page_reverse")
    ]
    kept.append(("limit", str(query.limit)))
    full = len(ids) >= query.limit
    more_after = query.marker is not None if query.page_reverse else full
    more_before = full if query.page_reverse else query.marker is not None
    links = []
    if more_after:
        links.append({"href": f"{base}?{urlencode([*kept, ('marker', ids[-1])])}", "rel": "next"})
    if more_before:
        params = [*kept, ("marker", ids[0]), ("page_reverse", "True")]
        links.append({"href": f"{base}?{urlencode(params)}", "rel": "previous"})
    return links


def page(
    request: Request,
    settings: ApiSettings,
    key: str,
    items: Sequence[BaseModel],
    query: ListQuery,
    links_key: str | None = None,
) -> JSONResponse:
    """`links_key`: where Octavia deviates from `<key>_links` (flavorprofile_links)."""
    fields = requested_fields(request)
    dumped: list[dict[str, Any]] = [
        select_fields(item.model_dump(mode="json"), fields) for item in items
    ]
    ids = [str(getattr(item, "id", "")) for item in items]
    links = _links(request, settings, query, ids)
    return JSONResponse({key: dumped, links_key or f"{key}_links": links})

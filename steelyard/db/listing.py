"""Filtering, sorting and keyset pagination of list requests, in SQL.

Pagination follows Octavia: the marker is the ID of the last item of the previous page (the
first, with page_reverse); the sort keys get `created_at` and `id` appended so that the order
is total, and the page continues after the marker in that order.

Objects with tags take Octavia's (and Neutron's) four tag filters, each a list of tags:
`tags` (has all of them), `tags-any` (has at least one), `not-tags` (lacks at least one: an
object with all of them is left out) and `not-tags-any` (has none of them). Each is an EXISTS
over the JSON list's elements, a plain condition on the row, so limits and markers work as
with any other filter and no row is counted twice.
"""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Float,
    Integer,
    and_,
    asc,
    desc,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from steelyard.db import models as m
from steelyard.db.access import get_visible, scoped
from steelyard.model.faults import BadRequest, echo
from steelyard.model.listing import ListQuery

R = TypeVar("R", bound=m.Provisioned)
# what list_page pages through: rows with an `id` (a key) and a `created_at`
Row = TypeVar(
    "Row",
    bound=m.Provisioned
    | m.Event
    | m.Appliance
    | m.FlavorProfile
    | m.Flavor
    | m.AvailabilityZoneProfile
    | m.AvailabilityZone
    | m.Quota
    | m.Host
    | m.Webhook
    | m.WebhookDelivery
    | m.FlowLog
    | m.AdminLog,
)
Body = TypeVar("Body")
View = Callable[[Session, Sequence[R]], list[Body]]

DEFAULT_SORT = ("created_at", "id")
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def attributes(fields: Sequence[str], *extra: str) -> tuple[str, ...]:
    """The attributes of a response that lists may filter and sort on (not the JSON ones)."""
    return tuple(name for name in (*fields, *extra) if name not in ("tags", "insert_headers"))


def _column(table: type[Row], name: str) -> InstrumentedAttribute[Any]:
    column: InstrumentedAttribute[Any] = getattr(table, name)
    return column


def _value(column: InstrumentedAttribute[Any], name: str, raw: str) -> Any:
    kind = column.type
    try:
        if isinstance(kind, Boolean):
            if raw.lower() in _TRUE + _FALSE:
                return raw.lower() in _TRUE
            raise ValueError(raw)
        if isinstance(kind, Integer):
            return int(raw)
        if isinstance(kind, Float):
            return float(raw)
    except ValueError:
        raise BadRequest(f"Invalid value {echo(raw)} for filter {name}.") from None
    return raw


def _has_tag(tags: InstrumentedAttribute[list[str]], tag: str) -> ColumnElement[bool]:
    elements = func.json_each(tags).table_valued("value")
    return select(literal(1)).select_from(elements).where(elements.c.value == tag).exists()


def _has_any_tag(
    tags: InstrumentedAttribute[list[str]], wanted: Sequence[str]
) -> ColumnElement[bool]:
    elements = func.json_each(tags).table_valued("value")
    return select(literal(1)).select_from(elements).where(elements.c.value.in_(wanted)).exists()


def _tag_clause(table: type[Row], name: str, wanted: Sequence[str]) -> ColumnElement[bool]:
    if not issubclass(table, m.Provisioned):
        raise BadRequest("One or more arguments are either duplicate or invalid.")
    has_all = and_(*(_has_tag(table.tags, tag) for tag in wanted))
    has_any = _has_any_tag(table.tags, wanted)
    clauses = {
        "tags": has_all,
        "tags-any": has_any,
        "not-tags": not_(has_all),
        "not-tags-any": not_(has_any),
    }
    return clauses[name]


def _sort_expression(table: type[Row], column: InstrumentedAttribute[Any]) -> ColumnElement[Any]:
    """NULLs sort as a neutral value, so that keyset comparisons stay total."""
    if not column.expression.nullable:
        return column.expression
    if isinstance(column.type, DateTime):
        return func.coalesce(column, table.created_at)
    if isinstance(column.type, Integer | Float | Boolean):
        return func.coalesce(column, literal(-1))
    return func.coalesce(column, literal(""))


def _sort_keys(query: ListQuery, allowed: Sequence[str]) -> list[tuple[str, bool]]:
    """(attribute, descending) pairs, default keys appended."""
    keys: list[tuple[str, bool]] = []
    for name, direction in query.sort:
        if name not in allowed or name in (key for key, _ in keys):
            raise BadRequest(f"Supplied sort key '{echo(name)}' is not valid.")
        keys.append((name, direction == "desc"))
    keys += [(name, False) for name in DEFAULT_SORT if name not in (key for key, _ in keys)]
    return keys


def list_page(
    session: Session,
    table: type[Row],
    query: ListQuery,
    attributes: Sequence[str],
    where: Sequence[ColumnElement[bool]] = (),
) -> list[Row]:
    """One page of `table` rows matching `where` and the query's filters.

    `attributes` are the API attributes that may be filtered and sorted on; each is a column
    of the same name.
    """
    clauses = list(where)
    for name, values in query.filters:
        if name in TAG_FILTERS:
            clauses.append(_tag_clause(table, name, values))
            continue
        if name not in attributes:
            raise BadRequest("One or more arguments are either duplicate or invalid.")
        column = _column(table, name)
        parsed = [_value(column, name, raw) for raw in values]
        clauses.append(column == parsed[0] if len(parsed) == 1 else column.in_(parsed))

    keys = _sort_keys(query, (*attributes, *DEFAULT_SORT))
    expressions = [_sort_expression(table, _column(table, name)) for name, _ in keys]
    # page_reverse walks backwards from the marker: flip every direction, then the page
    descending = [is_desc != query.page_reverse for _, is_desc in keys]

    if query.marker is not None:
        marker = session.execute(
            select(*expressions).where(table.id == query.marker, *where)
        ).one_or_none()
        if marker is None:
            raise BadRequest(f"Supplied pagination marker '{echo(query.marker)}' is not valid.")
        after = []
        for i, expression in enumerate(expressions):
            equal = [expressions[j] == marker[j] for j in range(i)]
            beyond = expression < marker[i] if descending[i] else expression > marker[i]
            after.append(and_(*equal, beyond))
        clauses.append(or_(*after))

    order = [
        desc(expression) if is_desc else asc(expression)
        for expression, is_desc in zip(expressions, descending, strict=True)
    ]
    statement = select(table).where(*clauses).order_by(*order).limit(query.limit)
    rows = list(session.scalars(statement))
    if query.page_reverse:
        rows.reverse()
    return rows


def list_visible(
    session: Session,
    table: type[R],
    scope: str | None,
    query: ListQuery,
    attributes: Sequence[str],
    view: View[R, Body],
    where: Sequence[ColumnElement[bool]] = (),
) -> list[Body]:
    """One page of what `scope` may see, as response bodies."""
    rows = list_page(session, table, query, attributes, [*scoped(table, scope), *where])
    return view(session, rows)


def show_visible(
    session: Session, table: type[R], scope: str | None, ident: str, view: View[R, Body]
) -> Body:
    return view(session, [get_visible(session, table, ident, scope)])[0]

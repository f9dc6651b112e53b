"""What every endpoint shares: the app's dependencies, the caller's context, request bodies,
and running a read or a write (one transaction, then wake the reconciler)."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from steelyard.api.auth import Context, KeyCache, authenticate, authorize
from steelyard.api.policy_routes import RouteRules
from steelyard.api.settings import ApiSettings
from steelyard.db.access import Written, WrittenMany
from steelyard.model.faults import BadRequest, Conflict
from steelyard.model.fields import describe

log = logging.getLogger("steelyard.api")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
MAX_BODY = 1024 * 1024  # a fully populated load balancer is far smaller


@dataclass(frozen=True)
class Deps:
    settings: ApiSettings
    sessions: sessionmaker[Session]
    notify: Callable[[str], None]
    read_sessions: sessionmaker[Session]
    keys: KeyCache = field(default_factory=KeyCache)

    def read(self, fn: Callable[[Session], T]) -> T:
        with self.read_sessions() as session:
            return fn(session)

    def write(self, fn: Callable[[Session], Written[T] | WrittenMany[T]]) -> T:
        """Run `fn` in one transaction; after the commit, wake the reconciler for every load
        balancer it bumped."""
        try:
            with self.sessions.begin() as session:
                written = fn(session)
        except IntegrityError:  # a concurrent write took the same port, address, ...
            raise Conflict("The request conflicts with a concurrent change; retry it.") from None
        for lb_id in written.touched:
            try:
                self.notify(lb_id)
            except Exception:  # the write is committed; the reconciler also polls
                log.exception("notify(%s) failed", lb_id)
        return written.result


def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


def _authorized(request: Request) -> Context | None:
    """The access check of every route (the app installs it on all of them): authenticate the
    caller, then apply the policy rule of the endpoint called (api/policy_routes.py). None on
    the public routes (version discovery)."""
    rules: RouteRules = request.app.state.route_rules
    rule = rules[(id(request.scope["route"]), request.method)]
    if rule is None:
        return None
    deps = _deps(request)
    who = authenticate(request, deps.settings, deps.read_sessions, deps.keys)
    return authorize(who, deps.settings.policy, rule)


def _caller(ctx: Annotated[Context | None, Depends(_authorized)]) -> Context:
    if ctx is None:
        raise RuntimeError("a public route asked who the caller is")
    return ctx


AUTHORIZED = Depends(_authorized)
AppDeps = Annotated[Deps, Depends(_deps)]
# The caller of an endpoint, already allowed by the endpoint's rule.
Caller = Annotated[Context, Depends(_caller)]


class BodyParser(Generic[M]):
    """A dependency that reads the request body as `model`: strict JSON types, no unknown
    attributes; invalid or empty JSON is a 400 like any other validation error. The OpenAPI
    document (api/openapi.py) finds `model` here and describes the body."""

    def __init__(self, model: type[M]) -> None:
        self.model = model

    async def __call__(self, request: Request) -> M:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise BadRequest("Request body too large.")
        try:
            return self.model.model_validate_json(raw, strict=True)
        except ValidationError as exc:
            raise BadRequest(describe(exc)) from None


def body(model: type[M]) -> BodyParser[M]:
    return BodyParser(model)


def select_fields(item: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    if not fields:
        return item
    return {name: value for name, value in item.items() if name in fields}


def requested_fields(request: Request) -> list[str] | None:
    """`fields=id&fields=name` (or `fields=id,name`): only these attributes in the response."""
    names = [n.strip() for v in request.query_params.getlist("fields") for n in v.split(",")]
    return [name for name in names if name] or None


def one(request: Request, key: str, item: BaseModel, status: int = 200) -> JSONResponse:
    dumped = select_fields(item.model_dump(mode="json"), requested_fields(request))
    return JSONResponse({key: dumped}, status_code=status)


def no_content() -> Response:
    return Response(status_code=204)

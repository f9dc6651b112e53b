"""/steelyard/networks and /steelyard/subnets: the VIP networks (Steelyard extension).

Every authenticated caller may read shared networks; only admins create and delete them.
"""

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from steelyard.api.deps import AppDeps, Caller, body, no_content, one
from steelyard.db import networks as db
from steelyard.model.network import NetworkCreateRoot, SubnetCreateRoot

router = APIRouter(prefix="/steelyard", tags=["networks"])


def _collection(
    key: str,
    listed: Callable[[Session, str | None], Sequence[BaseModel]],
    shown: Callable[[Session, str, str | None], BaseModel],
    created: Callable[[Session, Any], BaseModel],
    deleted: Callable[[Session, str], None],
    root: type[BaseModel],
) -> None:
    """GET (list, one) for everyone; POST and DELETE for admins."""
    path = f"/{key}s"

    @router.get(path, name=f"list_{key}s")
    def list_all(ctx: Caller, deps: AppDeps) -> JSONResponse:
        items = deps.read(lambda s: listed(s, ctx.scope))
        return JSONResponse({f"{key}s": [item.model_dump(mode="json") for item in items]})

    @router.get(f"{path}/{{ident}}", name=f"show_{key}")
    def show(request: Request, ident: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
        return one(request, key, deps.read(lambda s: shown(s, ident, ctx.scope)))

    @router.post(path, status_code=201, name=f"create_{key}")
    def create(
        request: Request, deps: AppDeps, req: Annotated[Any, Depends(body(root))]
    ) -> JSONResponse:
        with deps.sessions.begin() as session:
            item = created(session, getattr(req, key))
        return one(request, key, item, 201)

    @router.delete(f"{path}/{{ident}}", status_code=204, name=f"delete_{key}")
    def delete(ident: str, deps: AppDeps) -> Response:
        with deps.sessions.begin() as session:
            deleted(session, ident)
        return no_content()


_collection(
    "network",
    db.list_networks,
    db.get_network,
    db.create_network,
    db.delete_network,
    NetworkCreateRoot,
)
_collection(
    "subnet", db.list_subnets, db.get_subnet, db.create_subnet, db.delete_subnet, SubnetCreateRoot
)

"""/lbaas/quotas: per-project limits (-1 unlimited, null the default).

- GET /quotas: projects with limits of their own, as stored (a non-admin: its own only)
- GET /quotas/defaults: the deployment defaults (also /quotas/{project_id}/default)
- GET /quotas/{project_id}: the project's limits, defaults filled in (a non-admin: its own)
- PUT /quotas/{project_id}: set some (202, the quota as now in force); DELETE: back to the
  defaults (204)
- PUT and DELETE /quotas/defaults change the deployment defaults (a Steelyard extension:
  Octavia reads them from its configuration file); "defaults" is no project's ID here, as it
  is none in Octavia's GET /quotas/defaults
"""

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from steelyard.api.deps import AppDeps, Caller, body, no_content, one
from steelyard.api.listing import list_query, page
from steelyard.db import quotas as db
from steelyard.model.faults import BadRequest, echo
from steelyard.model.fields import PROJECT_ID_PATTERN
from steelyard.model.quota import QuotaUpdateRoot

router = APIRouter(prefix="/lbaas/quotas", tags=["quotas"])
Update = Annotated[QuotaUpdateRoot, Depends(body(QuotaUpdateRoot))]
DEFAULTS = "defaults"


def _project(project_id: str) -> str:
    if not re.fullmatch(PROJECT_ID_PATTERN, project_id):
        raise BadRequest(f"Invalid project ID {echo(project_id)}.")
    return project_id


@router.get("")
def list_quotas(request: Request, ctx: Caller, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings)
    items = deps.read(lambda s: db.list_quotas(s, ctx.scope, query))
    return page(request, deps.settings, "quotas", items, query)


@router.get(f"/{DEFAULTS}")
def show_defaults(request: Request, deps: AppDeps) -> JSONResponse:
    return one(request, "quota", deps.read(db.get_defaults))


@router.get("/{project_id}/default")
def show_project_defaults(
    request: Request, project_id: str, ctx: Caller, deps: AppDeps
) -> JSONResponse:
    ctx.check_project(_project(project_id))
    return one(request, "quota", deps.read(db.get_defaults))


@router.get("/{project_id}")
def show_quota(request: Request, project_id: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    ctx.check_project(_project(project_id))  # another project's: 403, as in Octavia
    return one(request, "quota", deps.read(lambda s: db.get_quota(s, project_id)))


@router.put("/{project_id}", status_code=202)
def update_quota(request: Request, project_id: str, deps: AppDeps, req: Update) -> JSONResponse:
    if project_id == DEFAULTS:
        return one(request, "quota", deps.write(lambda s: db.set_defaults(s, req.quota)), 202)
    item = deps.write(lambda s: db.set_quota(s, _project(project_id), req.quota))
    return one(request, "quota", item, 202)


@router.delete("/{project_id}", status_code=204)
def delete_quota(project_id: str, deps: AppDeps) -> Response:
    if project_id == DEFAULTS:
        deps.write(db.reset_defaults)
    else:
        deps.write(lambda s: db.reset_quota(s, _project(project_id)))
    return no_content()

"""Just enough of Keystone's project look-up for the openstack CLI on the same endpoint:
commands that name a project (`loadbalancer quota set|show|unset|reset PROJECT`,
`loadbalancer create --project P`) resolve it with GET /projects/{name_or_id}, then
GET /projects?name=..., before they call Octavia.

Steelyard keeps no project registry: a project is any valid project ID (its name is its ID),
and it exists for a caller who may see its objects (its own; every one for an admin)."""

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from steelyard.api.auth import Context
from steelyard.api.deps import Caller
from steelyard.model.faults import NotFound
from steelyard.model.fields import PROJECT_ID_PATTERN

router = APIRouter(tags=["keystone"], include_in_schema=False)


def _visible(ctx: Context, project_id: str) -> bool:
    valid = re.fullmatch(PROJECT_ID_PATTERN, project_id) is not None
    return valid and (ctx.scope is None or ctx.scope == project_id)


def _project(project_id: str) -> dict[str, Any]:
    return {
        "id": project_id,
        "name": project_id,
        "domain_id": "default",
        "parent_id": "default",
        "enabled": True,
        "is_domain": False,
        "description": "",
        "tags": [],
    }


@router.get("/projects/{project_id}")
def show_project(project_id: str, ctx: Caller) -> JSONResponse:
    if not _visible(ctx, project_id):
        raise NotFound("Project", project_id)
    return JSONResponse({"project": _project(project_id)})


@router.get("/projects")
def list_projects(request: Request, ctx: Caller) -> JSONResponse:
    """Filtered by `name` (or `id`): that project if visible; unfiltered, the caller's own."""
    wanted = request.query_params.get("name") or request.query_params.get("id") or ctx.scope
    found = [_project(wanted)] if wanted is not None and _visible(ctx, wanted) else []
    return JSONResponse({"projects": found})

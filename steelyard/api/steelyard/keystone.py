"""Just enough of Keystone's project look-up for the openstack CLI on the same endpoint:
commands that name a project (`loadbalancer quota set|show|unset|reset PROJECT`,
`loadbalancer create --project P`) resolve it with GET /projects/{name_or_id}, then
GET /projects?name=..., before they call Octavia.

Steelyard keeps no project registry: a project is any valid project ID (its name is its ID),
and it exists for a caller who may see its objects (its own; every one for an admin). Listed
without a filter, an admin gets the projects Steelyard knows (db/projects.py)."""

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from steelyard.api.auth import Context
from steelyard.api.deps import AppDeps, Caller
from steelyard.db.projects import known_projects
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
def list_projects(request: Request, ctx: Caller, deps: AppDeps) -> JSONResponse:
    """Filtered by `name` (what keystoneclient's find sends) or `id`: that project if visible.
    Unfiltered: the caller's own; for an admin, every project with load balancers, quotas or
    API keys."""
    params = request.query_params
    wanted = params.get("name") if "name" in params else params.get("id")
    if wanted is not None:
        found = [wanted] if _visible(ctx, wanted) else []
    elif ctx.scope is not None:
        found = [ctx.scope]
    else:
        found = deps.read(known_projects)
    return JSONResponse({"projects": [_project(project_id) for project_id in found]})

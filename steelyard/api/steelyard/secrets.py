"""/steelyard/secrets: the TLS secret store (Steelyard extension, issue 6).

Tenants upload certificates with their keys (PEM bundle or PKCS#12), CA certificates or CRLs,
and give the `secret_ref` of the answer wherever Octavia takes a `*_container_ref`. Secrets
belong to a project like load balancers do; responses never carry key material.

    GET    /v2/steelyard/secrets          {"secrets": [...]}
    POST   /v2/steelyard/secrets          {"secret": {"name", "pem" | "pkcs12", "passphrase"}}
    GET    /v2/steelyard/secrets/{id}
    PUT    /v2/steelyard/secrets/{id}     new name, or new content of the same type (rotation:
                                          every listener and pool using it is re-applied)
    DELETE /v2/steelyard/secrets/{id}     409 while a listener or pool refers to it
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from steelyard.api.deps import AppDeps, Caller, body, no_content, one
from steelyard.db import secrets as db
from steelyard.db.access import WrittenMany, utcnow
from steelyard.db.secret_box import SecretBox
from steelyard.model.faults import Fault
from steelyard.model.secret import SecretCreateRoot, SecretUpdateRoot

router = APIRouter(prefix="/steelyard/secrets", tags=["secrets"])
Create = Annotated[SecretCreateRoot, Depends(body(SecretCreateRoot))]
Update = Annotated[SecretUpdateRoot, Depends(body(SecretUpdateRoot))]


class StoreUnavailable(Fault):
    status = 503

    def __init__(self) -> None:
        super().__init__("The secret store is not configured on this server.")


def _box(deps: AppDeps) -> SecretBox:
    if deps.settings.secrets_key is None:
        raise StoreUnavailable()
    return SecretBox(deps.settings.secrets_key)


def _api_base(request: Request, deps: AppDeps) -> str:
    """Where this API is reached: the base of every `secret_ref`."""
    return (deps.settings.public_url or str(request.base_url)).rstrip("/")


@router.get("")
def list_secrets(request: Request, ctx: Caller, deps: AppDeps) -> JSONResponse:
    base = _api_base(request, deps)
    items = deps.read(lambda s: db.list_secrets(s, ctx.scope, base))
    return JSONResponse({"secrets": [item.model_dump(mode="json") for item in items]})


@router.post("", status_code=201)
def create_secret(request: Request, ctx: Caller, deps: AppDeps, req: Create) -> JSONResponse:
    project = ctx.owner(req.secret.project_id)
    box, base, now, new_id = _box(deps), _api_base(request, deps), utcnow(), str(uuid.uuid4())
    item = deps.write(
        lambda s: WrittenMany(db.create_secret(s, project, req.secret, box, base, now, new_id), ())
    )
    return one(request, "secret", item, 201)


@router.get("/{secret_id}")
def show_secret(request: Request, secret_id: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    base = _api_base(request, deps)
    return one(request, "secret", deps.read(lambda s: db.get_secret(s, ctx.scope, secret_id, base)))


@router.put("/{secret_id}")
def update_secret(
    request: Request, secret_id: str, ctx: Caller, deps: AppDeps, req: Update
) -> JSONResponse:
    box, base, now = _box(deps), _api_base(request, deps), utcnow()
    item = deps.write(
        lambda s: db.update_secret(s, ctx.scope, secret_id, req.secret, box, base, now)
    )
    return one(request, "secret", item)


@router.delete("/{secret_id}", status_code=204)
def delete_secret(secret_id: str, ctx: Caller, deps: AppDeps) -> Response:
    def delete(session: Session) -> WrittenMany[None]:
        db.delete_secret(session, ctx.scope, secret_id)
        return WrittenMany(None, ())

    deps.write(delete)
    return no_content()

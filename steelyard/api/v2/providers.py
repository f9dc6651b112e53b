"""/lbaas/providers and each provider's flavor and availability zone capabilities (the keys
its profiles accept), as `openstack loadbalancer provider (capability) list` reads them."""

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from steelyard.api.deps import requested_fields, select_fields
from steelyard.model.provider import PROVIDERS, Capability, Provider, provider

router = APIRouter(prefix="/lbaas/providers", tags=["providers"])


def _answer(request: Request, key: str, items: list[dict[str, Any]]) -> JSONResponse:
    """Octavia filters these lists by `name` and `description` only, and pages none."""
    wanted = {name: request.query_params.get(name) for name in ("name", "description")}
    kept = [item for item in items if all(v is None or item[n] == v for n, v in wanted.items())]
    fields = requested_fields(request)
    return JSONResponse({key: [select_fields(item, fields) for item in kept]})


@router.get("")
def list_providers(request: Request) -> JSONResponse:
    items = [{"name": p.name, "description": p.description} for p in PROVIDERS.values()]
    return _answer(request, "providers", items)


def _capabilities(
    request: Request, name: str, key: str, of: Callable[[Provider], list[Capability]]
) -> JSONResponse:
    return _answer(request, key, [asdict(capability) for capability in of(provider(name))])


@router.get("/{provider_name}/flavor_capabilities")
def list_flavor_capabilities(request: Request, provider_name: str) -> JSONResponse:
    return _capabilities(
        request, provider_name, "flavor_capabilities", lambda p: p.flavor_capabilities
    )


@router.get("/{provider_name}/availability_zone_capabilities")
def list_zone_capabilities(request: Request, provider_name: str) -> JSONResponse:
    return _capabilities(
        request, provider_name, "availability_zone_capabilities", lambda p: p.zone_capabilities
    )

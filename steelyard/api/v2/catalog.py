"""/lbaas/providers, /lbaas/flavors, /lbaas/availabilityzones: what a tenant may choose from
(`openstack loadbalancer provider list` and friends). One provider, no flavors or zones yet."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from steelyard.api.deps import Reader
from steelyard.model.loadbalancer import PROVIDER

router = APIRouter(prefix="/lbaas", tags=["catalog"])
PROVIDERS = [{"name": PROVIDER, "description": "Steelyard HAProxy appliances"}]


@router.get("/providers")
def list_providers(_: Reader) -> JSONResponse:
    return JSONResponse({"providers": PROVIDERS})


@router.get("/flavors")
def list_flavors(_: Reader) -> JSONResponse:
    return JSONResponse({"flavors": [], "flavors_links": []})


@router.get("/availabilityzones")
def list_availability_zones(_: Reader) -> JSONResponse:
    return JSONResponse({"availability_zones": [], "availability_zones_links": []})

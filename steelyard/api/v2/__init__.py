"""Octavia v2 resources, one module each; mounted at /v2 and /v2.0."""

from fastapi import APIRouter

from steelyard.api.v2 import loadbalancers

router = APIRouter()
router.include_router(loadbalancers.router)

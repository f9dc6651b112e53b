"""The version documents at `/` and `/v2` (what openstacksdk discovers the API from).

Only v2.0 is claimed: later Octavia API versions add features (TLS client authentication,
VIP ACLs, ...) that this provider does not have.
"""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from steelyard.api.settings import ApiSettings

router = APIRouter(tags=["versions"])
UPDATED = "2016-12-11T00:00:00Z"  # Octavia's date for v2.0


def versions(request: Request) -> JSONResponse:
    settings: ApiSettings = request.app.state.deps.settings
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    version = {
        "id": "v2.0",
        "status": "CURRENT",
        "updated": UPDATED,
        "links": [{"href": f"{base}/v2", "rel": "self"}],
    }
    return JSONResponse({"versions": [version]})


router.add_api_route("/", versions, methods=["GET"])
router.add_api_route("/v2", versions, methods=["GET"])
router.add_api_route("/v2.0", versions, methods=["GET"], include_in_schema=False)

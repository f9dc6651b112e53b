"""The version documents at `/` and `/v2` (what openstacksdk discovers the API from).

Octavia's v2 grows by minor versions ("v2.5"), each adding features, all served under /v2;
clients such as Terraform's provider look at the highest one to decide which attributes they
may send. Steelyard lists Octavia's versions up to the last one whose features it has, and no
further, even when it has some of the later ones: a client that sees v2.N may use everything
up to v2.N. OCTAVIA_VERSIONS says what each one added and whether Steelyard has it.
"""

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from steelyard.api.settings import ApiSettings

router = APIRouter(tags=["versions"])


@dataclass(frozen=True)
class ApiVersion:
    id: str
    updated: str  # Octavia's date for it
    adds: str
    supported: bool


OCTAVIA_VERSIONS = (
    ApiVersion("v2.0", "2016-12-11T00:00:00Z", "load balancers, listeners, pools, members, "
               "health monitors, L7 policies and rules, quotas, status tree, stats", True),
    ApiVersion("v2.1", "2018-04-20T00:00:00Z", "providers, listener timeouts, member backup", True),
    ApiVersion("v2.2", "2018-07-31T00:00:00Z", "REDIRECT_PREFIX L7 policies", True),
    ApiVersion("v2.3", "2018-12-18T00:00:00Z", "amphora failover", True),
    ApiVersion("v2.4", "2018-12-19T00:00:00Z", "amphora statistics", True),
    ApiVersion("v2.5", "2019-01-21T00:00:00Z", "tags and the tags/tags-any/not-tags/not-tags-any "
               "filters", True),
    ApiVersion("v2.6", "2019-01-25T00:00:00Z", "flavors and flavor profiles", True),
    ApiVersion("v2.7", "2018-01-25T12:00:00Z", "amphora configuration update", True),
    ApiVersion("v2.8", "2019-02-12T00:00:00Z", "TLS client authentication", True),
    ApiVersion("v2.9", "2019-03-04T00:00:00Z", "HTTP redirect codes", True),
    ApiVersion("v2.10", "2019-03-05T00:00:00Z", "health monitor host header", True),
    ApiVersion("v2.11", "2019-06-24T00:00:00Z", "additive batch member update", True),
    ApiVersion("v2.12", "2019-09-11T00:00:00Z", "VIP access lists (allowed_cidrs)", True),
    ApiVersion("v2.13", "2019-09-13T00:00:00Z", "SOURCE_IP_PORT", True),
    ApiVersion("v2.14", "2019-11-10T00:00:00Z", "availability zones", True),
    ApiVersion("v2.15", "2020-03-10T00:00:00Z", "TLS cipher lists", True),
    ApiVersion("v2.16", "2020-03-15T00:00:00Z", "UDP health monitor types", False),
)  # fmt: skip


def claimed() -> tuple[ApiVersion, ...]:
    """Octavia's versions up to the first one Steelyard lacks."""
    versions: list[ApiVersion] = []
    for version in OCTAVIA_VERSIONS:
        if not version.supported:
            break
        versions.append(version)
    return tuple(versions)


def versions(request: Request) -> JSONResponse:
    settings: ApiSettings = request.app.state.deps.settings
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    listed = claimed()
    return JSONResponse(
        {
            "versions": [
                {
                    "id": version.id,
                    "status": "CURRENT" if version is listed[-1] else "SUPPORTED",
                    "updated": version.updated,
                    "links": [{"href": f"{base}/v2", "rel": "self"}],
                }
                for version in listed
            ]
        }
    )


router.add_api_route("/", versions, methods=["GET"])
router.add_api_route("/v2", versions, methods=["GET"])
router.add_api_route("/v2.0", versions, methods=["GET"], include_in_schema=False)

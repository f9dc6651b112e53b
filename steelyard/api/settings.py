"""Settings of the tenant API (chosen by the server, not by tenants)."""

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ApiSettings:
    # "noauth": development only, the project comes from X-Project-Id; "keys": API keys
    auth: Literal["noauth", "keys"]
    # the network a load balancer's VIP goes on when the request names none
    default_network: str = "public"
    # largest page a list returns (Octavia's pagination_max_limit)
    pagination_max_limit: int = 1000
    # base of the URLs in pagination links; None: the URL the request came to
    public_url: str | None = None

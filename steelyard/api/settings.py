"""Settings of the tenant API (chosen by the server, not by tenants)."""

from dataclasses import dataclass, field
from typing import Literal

from steelyard.api.policy import Policy
from steelyard.api.policy_defaults import default_policy
from steelyard.model.enums import Topology


@dataclass(frozen=True)
class ApiSettings:
    # "noauth": development only, the project comes from X-Project-Id; "keys": API keys
    auth: Literal["noauth", "keys"]
    # the network a load balancer's VIP goes on when the request names none
    default_network: str = "public"
    # the topology of a load balancer whose flavor names none (or that has no flavor)
    default_topology: Topology = Topology.SINGLE
    # the topologies the appliances can run (the process driver: SINGLE only)
    topologies: frozenset[Topology] = frozenset(Topology)
    # largest page a list returns (Octavia's pagination_max_limit)
    pagination_max_limit: int = 1000
    # base of the URLs in pagination links; None: the URL the request came to
    public_url: str | None = None
    # who may do what: Octavia's default rules, or those and a policy file's (`--policy-file`)
    policy: Policy = field(default_factory=default_policy)
    # the secret store's AES-256 key (STATE/secrets.key, db/secret_box.py); None: no store
    secrets_key: bytes | None = field(default=None, repr=False)

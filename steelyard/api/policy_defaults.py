"""The default access rules: Octavia's rule names and defaults, and Steelyard's own rules in the
same style.

Octavia's new defaults (keystone's project-scoped reader / member / admin) are combined with
its deprecated roles (`load-balancer_observer`, `load-balancer_global_observer`,
`load-balancer_member`, `load-balancer_quota_admin`, `load-balancer_admin`), as oslo.policy
does while `enforce_new_defaults` is off: either grants access. A policy file overrides any
rule by name (`steelyard serve --policy-file`).

Endpoints use only the per-endpoint rules (`os_load-balancer_api:<object>:<action>`); those
refer to the access-level rules (`load-balancer:read`, `...:write`, ...), which in turn refer to
the role rules, so that one override (say `load-balancer:write`) changes every endpoint.
"""

from functools import cache

from steelyard.api.policy import Policy, compile_rules

OCTAVIA = "os_load-balancer_api"
STEELYARD = "steelyard"

READ = "rule:load-balancer:read"
READ_GLOBAL = "rule:load-balancer:read-global"
WRITE = "rule:load-balancer:write"
ADMIN = "rule:load-balancer:admin"
READ_QUOTA = "rule:load-balancer:read-quota"
READ_QUOTA_GLOBAL = "rule:load-balancer:read-quota-global"
WRITE_QUOTA = "rule:load-balancer:write-quota"

ROLE_RULES = {
    "context_is_admin": "role:admin or role:load-balancer_admin",
    "load-balancer:owner": "project_id:%(project_id)s",
    "project-member": "role:member and project_id:%(project_id)s",
    "project-reader": "role:reader and project_id:%(project_id)s",
    "load-balancer:admin": "is_admin:True or role:admin or role:load-balancer_admin",
    "load-balancer:global_observer": "role:admin or role:load-balancer_global_observer",
    "load-balancer:member_and_owner": (
        "rule:project-member or (role:load-balancer_member and rule:load-balancer:owner)"
    ),
    "load-balancer:observer_and_owner": (
        "rule:project-reader or (role:load-balancer_observer and rule:load-balancer:owner)"
    ),
    "load-balancer:quota-admin": "role:admin or role:load-balancer_quota_admin",
}

ACCESS_RULES = {
    "load-balancer:read": (
        "rule:load-balancer:observer_and_owner or rule:load-balancer:global_observer or "
        "rule:load-balancer:member_and_owner or rule:load-balancer:admin"
    ),
    "load-balancer:read-global": "rule:load-balancer:global_observer or rule:load-balancer:admin",
    "load-balancer:write": "rule:load-balancer:member_and_owner or rule:load-balancer:admin",
    "load-balancer:read-quota": (
        "rule:load-balancer:observer_and_owner or rule:load-balancer:global_observer or "
        "rule:load-balancer:member_and_owner or rule:load-balancer:quota-admin or "
        "rule:load-balancer:admin"
    ),
    "load-balancer:read-quota-global": (
        "rule:load-balancer:global_observer or rule:load-balancer:quota-admin or "
        "rule:load-balancer:admin"
    ),
    "load-balancer:write-quota": "rule:load-balancer:quota-admin or rule:load-balancer:admin",
}

# A tenant's own objects: read them, list them (all projects' for global readers), write them.
TENANT_OBJECT = {
    "get_all": READ,
    "get_all-global": READ_GLOBAL,
    "get_one": READ,
    "post": WRITE,
    "put": WRITE,
    "delete": WRITE,
}
# The same without a cross-project list (members, L7 rules: listed under their parent)
CHILD_OBJECT = {action: rule for action, rule in TENANT_OBJECT.items() if "global" not in action}
# Deployment-wide catalogue entries (flavors, zones): everyone reads, admins write.
CATALOGUE = {"get_all": READ, "get_one": READ, "post": ADMIN, "put": ADMIN, "delete": ADMIN}
ADMIN_ONLY = dict.fromkeys(("get_all", "get_one", "post", "put", "delete"), ADMIN)


def _object(prefix: str, name: str, actions: dict[str, str]) -> dict[str, str]:
    return {f"{prefix}:{name}:{action}": check for action, check in actions.items()}


ENDPOINT_RULES: dict[str, str] = {
    **_object(
        OCTAVIA,
        "loadbalancer",
        {**TENANT_OBJECT, "get_stats": READ, "get_status": READ, "put_failover": ADMIN},
    ),
    **_object(OCTAVIA, "listener", {**TENANT_OBJECT, "get_stats": READ}),
    **_object(OCTAVIA, "pool", TENANT_OBJECT),
    **_object(OCTAVIA, "member", CHILD_OBJECT),
    **_object(OCTAVIA, "healthmonitor", TENANT_OBJECT),
    **_object(OCTAVIA, "l7policy", TENANT_OBJECT),
    **_object(OCTAVIA, "l7rule", CHILD_OBJECT),
    **_object(
        OCTAVIA,
        "quota",
        {
            "get_all": READ_QUOTA,
            "get_all-global": READ_QUOTA_GLOBAL,
            "get_one": READ_QUOTA,
            "get_defaults": READ_QUOTA,
            "put": WRITE_QUOTA,
            "delete": WRITE_QUOTA,
        },
    ),
    **_object(OCTAVIA, "provider", {"get_all": READ}),
    **_object(OCTAVIA, "provider-flavor", {"get_all": ADMIN}),
    **_object(OCTAVIA, "provider-availability-zone", {"get_all": ADMIN}),
    **_object(OCTAVIA, "flavor", CATALOGUE),
    **_object(OCTAVIA, "flavor-profile", ADMIN_ONLY),
    **_object(OCTAVIA, "availability-zone", CATALOGUE),
    **_object(OCTAVIA, "availability-zone-profile", ADMIN_ONLY),
    **_object(
        OCTAVIA,
        "amphora",
        dict.fromkeys(
            ("get_all", "get_one", "delete", "put_config", "put_failover", "get_stats"), ADMIN
        ),
    ),
    # Steelyard's own endpoints
    **_object(STEELYARD, "loadbalancer", {"get_events": READ, "get_logs": READ}),
    **_object(STEELYARD, "network", CATALOGUE),
    **_object(STEELYARD, "subnet", CATALOGUE),
    **_object(STEELYARD, "secret", TENANT_OBJECT),
    **_object(STEELYARD, "project", {"get_all": READ, "get_one": READ}),
    f"{STEELYARD}:operator": ADMIN,
    f"{STEELYARD}:metrics:get_all": ADMIN,
}

DEFAULT_RULES: dict[str, str] = {**ROLE_RULES, **ACCESS_RULES, **ENDPOINT_RULES}


@cache
def default_policy() -> Policy:
    return compile_rules(DEFAULT_RULES)

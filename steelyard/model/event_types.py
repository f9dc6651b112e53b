"""Every event type Steelyard records, in one place: dotted names, `<subject>.<what>`.

Operators filter the event log, the live stream and webhooks by these names (a webhook filter
may also end in `.*`: `member.*`). tests/unit/model/test_event_types.py checks that every
`type="..."` literal recorded in steelyard/ is listed here: a new event type is added here, with
what it means and its usual severity (info, warning or critical).
"""

# Load balancers: provisioning (the reconciler) and operator actions
LOADBALANCER_ACTIVE = "loadbalancer.provisioning.active"
LOADBALANCER_APPLY_FAILED = "loadbalancer.apply_failed"
LOADBALANCER_ERROR = "loadbalancer.provisioning.error"
LOADBALANCER_DELETED = "loadbalancer.deleted"
LOADBALANCER_FAILOVER = "loadbalancer.failover"
LOADBALANCER_RESYNC = "loadbalancer.resync"
LOADBALANCER_MIGRATE = "loadbalancer.migrate"
LOADBALANCER_RESIZE = "loadbalancer.resize"
FAILOVER_COMPLETED = "loadbalancer.failover.completed"
RESYNC_COMPLETED = "loadbalancer.resync.completed"
MIGRATE_COMPLETED = "loadbalancer.migrate.completed"
RESIZE_COMPLETED = "loadbalancer.resize.completed"
# Operating statuses observed on the data plane, one event per change
LOADBALANCER_OPERATING = "loadbalancer.operating_status"
LISTENER_OPERATING = "listener.operating_status"
POOL_OPERATING = "pool.operating_status"
MEMBER_OPERATING = "member.operating_status"
# Threshold crossings (steelyard.telemetry.thresholds), each raised once and cleared once
LISTENER_CONNECTIONS_HIGH = "listener.connections.high"
LISTENER_CONNECTIONS_NORMAL = "listener.connections.normal"
POOL_NO_HEALTHY_MEMBER = "pool.no_healthy_member"
POOL_HEALTHY_MEMBER_BACK = "pool.healthy_member_back"
# Appliances, configuration drift, the health manager
APPLIANCE_FAILED = "appliance.failed"
APPLIANCE_REMOVED = "appliance.removed"
APPLIANCE_DELETE_REQUESTED = "appliance.delete_requested"
HOST_DRAINING = "host.draining"
HOST_UNDRAINED = "host.undrained"
CONFIG_DRIFT = "config.drift"
CONFIG_REPAIRED = "config.repaired"
BREAKER_TRIPPED = "health.circuit_breaker.tripped"
BREAKER_RELEASED = "health.circuit_breaker.released"
# Protection (issue 5)
PROTECTION_BREACH = "protection.breach"
PROTECTION_CALM = "protection.calm"
PROTECTION_DEFAULTS = "protection.defaults"
PROTECTION_OVERRIDE = "protection.override"
PROTECTION_UNDER_ATTACK = "protection.under_attack"
# Alert delivery itself
WEBHOOK_DEAD_LETTER = "webhook.dead_letter"

EVENT_TYPES: dict[str, str] = {
    LOADBALANCER_ACTIVE: "info: a load balancer's configuration is in force (ACTIVE after an "
    "apply; details: generation, previous status, children made ACTIVE per kind)",
    LOADBALANCER_APPLY_FAILED: "warning: applying a load balancer's configuration failed; "
    "retried with backoff (operator_details: the error)",
    LOADBALANCER_ERROR: "critical: a load balancer went to provisioning status ERROR after "
    "repeated failures (still retried; operator_details: the error)",
    LOADBALANCER_DELETED: "info: a load balancer and everything under it were removed",
    LOADBALANCER_FAILOVER: "info: a failover of a load balancer's appliances was requested",
    LOADBALANCER_RESYNC: "info: an operator asked for a load balancer's config to be pushed again",
    LOADBALANCER_MIGRATE: "info: an operator asked to move a load balancer's appliances",
    LOADBALANCER_RESIZE: "info: an operator asked to change a load balancer's flavor",
    FAILOVER_COMPLETED: "info: an operator's failover is done (details: seconds)",
    RESYNC_COMPLETED: "info: an operator's resync is done (details: seconds)",
    MIGRATE_COMPLETED: "info: an operator's migration is done (details: seconds)",
    RESIZE_COMPLETED: "info: an operator's resize is done (details: seconds)",
    LOADBALANCER_OPERATING: "info/warning/critical: a load balancer's operating status changed",
    LISTENER_OPERATING: "info/warning/critical: a listener's operating status changed",
    POOL_OPERATING: "info/warning/critical: a pool's operating status changed",
    MEMBER_OPERATING: "info/warning: a member's operating status changed (details: address, "
    "protocol_port, pool_id, from, to)",
    LISTENER_CONNECTIONS_HIGH: "warning: a listener's active connections rose above the alert "
    "share of its connection limit (or of the deployment's maximum)",
    LISTENER_CONNECTIONS_NORMAL: "info: the listener's active connections fell back below "
    "the clear share",
    POOL_NO_HEALTHY_MEMBER: "critical: an enabled pool with members has none ONLINE",
    POOL_HEALTHY_MEMBER_BACK: "info: the pool has an ONLINE member again",
    APPLIANCE_FAILED: "critical: an appliance went silent or its processes died",
    APPLIANCE_REMOVED: "info: an appliance was removed (replaced, retired)",
    APPLIANCE_DELETE_REQUESTED: "info: an operator asked for an appliance to be removed",
    HOST_DRAINING: "info: an operator drains a host: its load balancers move away",
    HOST_UNDRAINED: "info: a drained host takes new appliances again",
    CONFIG_DRIFT: "warning: an appliance's configuration differs from the desired one",
    CONFIG_REPAIRED: "info: a drifted appliance was brought back to the desired configuration",
    BREAKER_TRIPPED: "critical: many appliances went silent at once; automatic failover held",
    BREAKER_RELEASED: "warning: an operator released the health circuit breaker",
    PROTECTION_BREACH: "warning: a listener's protection is refusing traffic (sustained)",
    PROTECTION_CALM: "info: the listener's protection stopped refusing traffic",
    PROTECTION_DEFAULTS: "info: an operator changed the deployment's protection defaults",
    PROTECTION_OVERRIDE: "info: an operator changed a load balancer's protection override",
    PROTECTION_UNDER_ATTACK: "warning/info: an operator switched 'under attack' on or off",
    WEBHOOK_DEAD_LETTER: "critical: a webhook delivery gave up after its last attempt (the "
    "alert is in the webhook's dead-letter list; details: webhook_id, delivery_id, event_id)",
}

"""What the keepalived renderer takes: one appliance's VRRP instance as plain frozen data.

An ACTIVE_STANDBY pair (or group) shares its VIPs through VRRP with unicast adverts between the
appliances' own addresses ("vrrp_ip"). The controller chooses the router id, which appliance is
MASTER, and the timing profile; the agent supplies the paths (`KeepalivedPaths`).

Two timing profiles are data, so that a benchmark can run Steelyard's and Octavia's settings in
the same harness:

- `STEELYARD`: VRRPv3 with 100 ms adverts (a dead MASTER is noticed after 3 x 100 ms plus skew),
  and HAProxy tracked through kernel process events, so that a dead HAProxy faults its
  appliance at once instead of at the next run of a check script.
- `OCTAVIA_DEFAULTS`: what Octavia 19 pushes to an amphora pair by default (`[keepalived_vrrp]`):
  VRRPv2, 1 s adverts, priorities 100/90, a check script every 5 s that must fail twice (and
  succeed twice to recover), gratuitous ARP refreshed every 5 s, two at a time.
"""

from dataclasses import dataclass
from enum import StrEnum


class VrrpRole(StrEnum):
    """The role the controller names. keepalived elects the real MASTER; the named one has the
    higher priority, so it wins the first election and a split brain."""

    MASTER = "MASTER"
    BACKUP = "BACKUP"


@dataclass(frozen=True)
class ProcessTracking:
    """HAProxy tracked by keepalived's `vrrp_track_process`: the kernel reports the exit of the
    last process whose argv[0] is `KeepalivedPaths.haproxy_command` and the instance goes FAULT
    (handing the VIP over with a priority-0 advert) within milliseconds."""


@dataclass(frozen=True)
class ScriptTracking:
    """HAProxy checked by a `vrrp_script` run every `interval_s` seconds: FAULT after `fall`
    failures in a row, back after `rise` successes (keepalived's intervals are whole seconds)."""

    interval_s: int
    fall: int
    rise: int


@dataclass(frozen=True)
class GarpSettings:
    """Gratuitous ARP (IPv4) and unsolicited neighbour adverts (IPv6) of a new MASTER."""

    master_repeat: int  # sent at once on becoming MASTER
    master_delay_s: int  # a second burst this long after (0: none)
    refresh_s: int  # while MASTER, a burst every this many seconds (0: none)
    refresh_repeat: int  # messages per refresh burst


@dataclass(frozen=True)
class VrrpProfile:
    name: str
    version: int  # 2 or 3; IPv6 needs 3
    advert_int_ms: int  # VRRPv2 allows whole seconds only
    master_priority: int
    backup_priority: int
    haproxy_tracking: ProcessTracking | ScriptTracking
    garp: GarpSettings
    # keepalived raises itself to this realtime priority when it notices it ran late (timers
    # of 100 ms adverts must not slip on a busy host); None leaves it at normal scheduling.
    max_auto_priority: int | None = None


STEELYARD = VrrpProfile(
    name="STEELYARD",
    version=3,
    advert_int_ms=100,
    master_priority=100,
    backup_priority=90,
    haproxy_tracking=ProcessTracking(),
    # keepalived's default burst of 5, repeated after 1 s instead of its default 5 s.
    garp=GarpSettings(master_repeat=5, master_delay_s=1, refresh_s=0, refresh_repeat=1),
    max_auto_priority=10,
)

OCTAVIA_DEFAULTS = VrrpProfile(
    name="OCTAVIA_DEFAULTS",
    version=2,
    advert_int_ms=1000,
    master_priority=100,
    backup_priority=90,
    haproxy_tracking=ScriptTracking(interval_s=5, fall=2, rise=2),
    # keepalived's defaults (5 at once, 5 more after 5 s) plus Octavia's refresh.
    garp=GarpSettings(master_repeat=5, master_delay_s=5, refresh_s=5, refresh_repeat=2),
)

PROFILES = {profile.name: profile for profile in (STEELYARD, OCTAVIA_DEFAULTS)}


@dataclass(frozen=True)
class VipAddress:
    address: str
    prefixlen: int  # of the VIP subnet


@dataclass(frozen=True)
class KeepalivedPaths:
    """Files of the appliance, chosen by the agent (`ApplianceInfo.paths.keepalived`)."""

    notify_fifo: str  # keepalived writes its state changes here, in order
    notify_script: str  # reads the FIFO and keeps the appliance's `vrrp.state` file
    check_script: str  # exits 0 while the appliance's HAProxy runs (ScriptTracking)
    haproxy_command: str  # argv[0] the agent starts the appliance's HAProxy with


@dataclass(frozen=True)
class VrrpSpec:
    """One appliance's VRRP instance.

    `vips[0]` is the load balancer's VIP and must be of the family of `unicast_src_ip`: it is
    the only address the adverts carry. keepalived drops adverts whose address list differs from
    its own, so further VIPs (and the other family's) are moved without being advertised; adding
    one to one appliance before the other then cannot split the pair.
    """

    router_id: int  # 1..255, the same on every appliance of the group
    interface: str  # the appliance's link on the VIP network, e.g. "eth0"
    role: VrrpRole
    unicast_src_ip: str  # this appliance's own address on the VIP network
    unicast_peers: tuple[str, ...]  # the other appliances' own addresses
    vips: tuple[VipAddress, ...]
    profile: VrrpProfile
    paths: KeepalivedPaths

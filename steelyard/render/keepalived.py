"""Render one appliance's `keepalived.conf` (keepalived 2.2.7, VRRP only): pure, no I/O.

What the text does, and why (figures measured on the test machines, see the keepalived
integration tests):

- Every appliance starts as BACKUP with `nopreempt`; the one the controller names MASTER has the
  higher priority. keepalived 2.2.7 starts an instance configured `state MASTER` in BACKUP too
  and takes the VIP only after the advert timeout, so `state MASTER` would not serve sooner; it
  would only clear `nopreempt`, and a recovered MASTER would then take the VIP back (a second
  gap) and a released one could not come back as BACKUP. Without preemption the VIP stays where
  it is until its holder fails or is released.
- Adverts are unicast to the peers' own addresses, and only adverts from those peers count
  (`check_unicast_src`): another load balancer on the same network cannot interfere, whatever
  its router id.
- Adverts carry `vips[0]` alone; the other VIPs are `virtual_ipaddress_excluded` (see
  `VrrpSpec`).
- HAProxy is tracked (`VrrpProfile.haproxy_tracking`); an instance whose HAProxy is gone goes
  FAULT, which sends a priority-0 advert, and the peer takes over after its skew time.
- State changes reach `KeepalivedPaths.notify_script` through a FIFO, in order (separate notify
  scripts per event are forked and may finish out of order).

Every value is checked against an allow-list (`validate`) and rejected with `RenderError`;
every line is checked again before joining.
"""

import ipaddress
import re

from steelyard.model.vrrp import (
    GarpSettings,
    KeepalivedPaths,
    ProcessTracking,
    ScriptTracking,
    VipAddress,
    VrrpProfile,
    VrrpRole,
    VrrpSpec,
)
from steelyard.render import validate as v
from steelyard.render.errors import RenderError

__all__ = ["render_keepalived"]

INDENT = "    "
INSTANCE = "steelyard"
TRACK = "haproxy"  # name of the vrrp_track_process / vrrp_script entry
MAX_PEERS = 8
MAX_VIPS = 32
# Priority 255 means "address owner": tracking could no longer lower it.
MAX_PRIORITY = 254
# VRRPv3 carries the advert interval in centiseconds, 12 bits; VRRPv2 in whole seconds, 8 bits.
MAX_ADVERT_MS = {2: 255_000, 3: 40_950}
# A Linux link name without the characters that `ip` or keepalived would read specially.
_INTERFACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}")
_SAFE_LINE = re.compile(r"[ A-Za-z0-9._/:{}-]*")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


def render_keepalived(spec: VrrpSpec) -> str:
    """The full configuration text for `spec`; raises `RenderError` for an unsafe value."""
    if not isinstance(spec, VrrpSpec):
        raise RenderError("render_keepalived needs a VrrpSpec")
    profile = _profile(spec.profile)
    paths = _paths(spec.paths)
    interface = _interface(spec.interface)
    source = v.ip_address(spec.unicast_src_ip, "unicast_src_ip")
    peers = _peers(spec.unicast_peers, source)
    advertised, excluded = _vips(spec.vips, source, {source, *peers})
    if source.version == 6 and profile.version == 2:
        raise RenderError("VRRP over IPv6 needs version 3")
    router_id = v.integer(spec.router_id, "router_id", 1, 255)
    role = v.member_of(VrrpRole, spec.role, "role")
    priority = profile.master_priority if role is VrrpRole.MASTER else profile.backup_priority

    sections = [
        _global_defs(profile, paths),
        _tracking(profile, paths),
        [
            f"vrrp_instance {INSTANCE} {{",
            f"{INDENT}state BACKUP",
            f"{INDENT}interface {interface}",
            f"{INDENT}virtual_router_id {router_id}",
            f"{INDENT}priority {priority}",
            f"{INDENT}nopreempt",
            f"{INDENT}version {profile.version}",
            f"{INDENT}advert_int {_seconds(profile.advert_int_ms)}",
            *_garp(profile.garp),
            f"{INDENT}unicast_src_ip {source.compressed}",
            f"{INDENT}check_unicast_src",
            *_block("unicast_peer", [peer.compressed for peer in peers]),
            *_block("virtual_ipaddress", [_vip_line(advertised, interface)]),
            *_block("virtual_ipaddress_excluded", [_vip_line(vip, interface) for vip in excluded]),
            *_block(_track_block(profile), [TRACK]),
            "}",
        ],
    ]
    lines = [line for section in sections for line in (*section, "")]
    _check_lines(lines)
    return "\n".join(lines)


def _profile(profile: object) -> VrrpProfile:
    if not isinstance(profile, VrrpProfile):
        raise RenderError("profile must be a VrrpProfile")
    version = v.integer(profile.version, "profile.version", 2, 3)
    advert = v.integer(profile.advert_int_ms, "profile.advert_int_ms", 10, MAX_ADVERT_MS[version])
    step = 1000 if version == 2 else 10
    if advert % step:
        raise RenderError(
            f"profile.advert_int_ms must be a multiple of {step} ms with VRRPv{version}, "
            f"got {advert}"
        )
    master = v.integer(profile.master_priority, "profile.master_priority", 2, MAX_PRIORITY)
    v.integer(profile.backup_priority, "profile.backup_priority", 1, master - 1)
    tracking = profile.haproxy_tracking
    if isinstance(tracking, ScriptTracking):
        v.integer(tracking.interval_s, "profile.haproxy_tracking.interval_s", 1, 3600)
        v.integer(tracking.fall, "profile.haproxy_tracking.fall", 1, 100)
        v.integer(tracking.rise, "profile.haproxy_tracking.rise", 1, 100)
    elif not isinstance(tracking, ProcessTracking):
        raise RenderError("profile.haproxy_tracking must be ProcessTracking or ScriptTracking")
    garp = profile.garp
    if not isinstance(garp, GarpSettings):
        raise RenderError("profile.garp must be GarpSettings")
    v.integer(garp.master_repeat, "profile.garp.master_repeat", 1, 100)
    v.integer(garp.master_delay_s, "profile.garp.master_delay_s", 0, 3600)
    v.integer(garp.refresh_s, "profile.garp.refresh_s", 0, 86400)
    v.integer(garp.refresh_repeat, "profile.garp.refresh_repeat", 1, 100)
    if profile.max_auto_priority is not None:
        v.integer(profile.max_auto_priority, "profile.max_auto_priority", 1, 99)
    return profile


def _paths(paths: object) -> KeepalivedPaths:
    if not isinstance(paths, KeepalivedPaths):
        raise RenderError("paths must be KeepalivedPaths")
    for field in ("notify_fifo", "notify_script", "check_script", "haproxy_command"):
        v.absolute_path(getattr(paths, field), f"paths.{field}")
    return paths


def _interface(value: object) -> str:
    if not isinstance(value, str) or not _INTERFACE.fullmatch(value):
        raise RenderError(f"interface must be a link name, got {v.describe(value)}")
    return value


def _peers(values: object, source: IPAddress) -> list[IPAddress]:
    if not isinstance(values, tuple) or not 1 <= len(values) <= MAX_PEERS:
        raise RenderError(f"unicast_peers must be a tuple of 1..{MAX_PEERS} addresses")
    peers = [v.ip_address(value, "unicast_peers") for value in values]
    for peer in peers:
        if peer.version != source.version:
            raise RenderError(f"unicast peer {peer} is not of the family of unicast_src_ip")
    if len(set(peers)) != len(peers) or source in peers:
        raise RenderError("unicast_peers must be distinct and must not hold unicast_src_ip")
    return peers


def _vips(
    values: object, source: IPAddress, own: set[IPAddress]
) -> tuple[IPInterface, list[IPInterface]]:
    if not isinstance(values, tuple) or not 1 <= len(values) <= MAX_VIPS:
        raise RenderError(f"vips must be a tuple of 1..{MAX_VIPS} VipAddress")
    vips = []
    for index, vip in enumerate(values):
        if not isinstance(vip, VipAddress):
            raise RenderError(f"vips[{index}] must be a VipAddress")
        address = v.ip_address(vip.address, f"vips[{index}].address")
        prefix = v.integer(vip.prefixlen, f"vips[{index}].prefixlen", 1, address.max_prefixlen)
        if address in own:
            raise RenderError(f"vips[{index}] is an appliance's own address: {address}")
        vips.append(ipaddress.ip_interface((address, prefix)))
    if len({vip.ip for vip in vips}) != len(vips):
        raise RenderError("vips must be distinct")
    if vips[0].version != source.version:
        raise RenderError("vips[0] (the advertised VIP) must be of the family of unicast_src_ip")
    return vips[0], vips[1:]


def _global_defs(profile: VrrpProfile, paths: KeepalivedPaths) -> list[str]:
    # Scripts run as root, and only from paths no other user can write to.
    lines = ["global_defs {", f"{INDENT}enable_script_security", f"{INDENT}script_user root"]
    if profile.max_auto_priority is not None:
        lines.append(f"{INDENT}max_auto_priority {profile.max_auto_priority}")
    lines += [
        f"{INDENT}vrrp_notify_fifo {paths.notify_fifo}",
        f"{INDENT}vrrp_notify_fifo_script {paths.notify_script}",
        "}",
    ]
    return lines


def _tracking(profile: VrrpProfile, paths: KeepalivedPaths) -> list[str]:
    tracking = profile.haproxy_tracking
    if isinstance(tracking, ScriptTracking):
        return [
            f"vrrp_script {TRACK} {{",
            f"{INDENT}script {paths.check_script}",
            f"{INDENT}interval {tracking.interval_s}",
            f"{INDENT}fall {tracking.fall}",
            f"{INDENT}rise {tracking.rise}",
            "}",
        ]
    # `full_command` compares argv[0] alone (the parameters are not read): the per-appliance
    # command survives HAProxy's re-exec on reload, whose argv gains `-sf <pids> -x ...`.
    return [
        f"vrrp_track_process {TRACK} {{",
        f"{INDENT}process {paths.haproxy_command}",
        f"{INDENT}full_command",
        f"{INDENT}quorum 1",
        "}",
    ]


def _track_block(profile: VrrpProfile) -> str:
    if isinstance(profile.haproxy_tracking, ScriptTracking):
        return "track_script"
    return "track_process"


def _garp(garp: GarpSettings) -> list[str]:
    return [
        f"{INDENT}garp_master_repeat {garp.master_repeat}",
        f"{INDENT}garp_master_delay {garp.master_delay_s}",
        f"{INDENT}garp_master_refresh {garp.refresh_s}",
        f"{INDENT}garp_master_refresh_repeat {garp.refresh_repeat}",
    ]


def _block(name: str, items: list[str]) -> list[str]:
    if not items:
        return []
    return [f"{INDENT}{name} {{", *(f"{INDENT * 2}{item}" for item in items), f"{INDENT}}}"]


def _vip_line(vip: IPInterface, interface: str) -> str:
    return f"{vip.ip.compressed}/{vip.network.prefixlen} dev {interface}"


def _seconds(milliseconds: int) -> str:
    whole, rest = divmod(milliseconds, 1000)
    return str(whole) if not rest else f"{whole}.{rest:03d}".rstrip("0")


def _check_lines(lines: list[str]) -> None:
    for number, line in enumerate(lines, start=1):
        if not _SAFE_LINE.fullmatch(line):
            raise RenderError(f"line {number} would hold an unsafe character")

"""Deterministic, length-safe names for what Steelyard creates in the kernel (pure).

Every name starts with a resource prefix P (1-4 characters of ``[a-z0-9]``, starting with a
letter; ``sy`` by default, tests use others so that concurrent runs stay apart)::

    namespace    P-<appliance>     "sy-lb-3f2a9c-0"    a file under /run/netns, not a link:
                                                        no 15-character limit, kept readable
    host veth    Pv<hex>           "syv5d41402abc4b"   exactly 15 characters
    bridge       Pbr<hex>          "sybr7f3c0e2a91d"   exactly 15 characters
    router       <bridge>-router   "sybr7f3c0e2a91d-router"   namespace of the network's ECMP
                                                        router; its host veth is Pv<hex> too
    inside       eth0                                  in the appliance's own namespace

``<hex>`` is the start of the SHA-256 of the namespace name (veth) or of the network id (bridge),
as long as fits Linux's 15-character limit (IFNAMSIZ 16 with the NUL): 10-12 hex digits
(40-48 bits) for a veth, 9-11 for a bridge. Deterministic, so a retry finds what an earlier
attempt made instead of making a second one.

Why a purge of one prefix can never remove another prefix's links, even when one prefix begins
the other ("tc" and "tcv1"): the kind marker ("v" or "br") follows the prefix directly and holds
a letter that is not a hex digit, everything after the marker is hex, and every link name is 15
characters long. For another prefix's name to match, that non-hex letter would have to fall in
the hex part of the pattern (see tests/unit/network/test_names.py, which checks it).
Namespaces are separated by the "-", which a prefix cannot contain. A router namespace is
never taken for an appliance's: its first "-" comes after 15 characters, an appliance
namespace's right after the (at most 4-character) prefix.
"""

import hashlib
import re
from dataclasses import dataclass

DEFAULT_PREFIX = "sy"
IFNAMSIZ = 15  # longest Linux link name (IFNAMSIZ is 16 including the terminating NUL)
NETNS_INTERFACE = "eth0"  # the appliance side of its veth; unique inside its own namespace

_PREFIX_RE = re.compile(r"[a-z][a-z0-9]{0,3}")
# Appliance names come from LB ids and slots; they end up in a path under /run/netns, so no "/",
# no leading "." and a bounded length.
_APPLIANCE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
# What the kernel accepts as a link name, minus the characters that need quoting in `ip -batch`.
_LINK_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}")
_VETH_MARK = "v"
_BRIDGE_MARK = "br"
_ROUTER_SUFFIX = "-router"


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def validate_prefix(prefix: str) -> str:
    """Return `prefix` if it is 1-4 characters of [a-z0-9] starting with a letter."""
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(
            f"resource prefix {prefix!r} must be 1-4 characters of [a-z0-9], starting with a letter"
        )
    return prefix


def validate_appliance_name(name: str) -> str:
    if not _APPLIANCE_RE.fullmatch(name):
        raise ValueError(
            f"appliance name {name!r} must be 1-200 characters of [A-Za-z0-9_.-], "
            "starting with a letter or digit"
        )
    return name


def validate_link_name(name: str) -> str:
    """Return `name` if Linux accepts it as a link name (at most 15 characters, no "/")."""
    if not _LINK_RE.fullmatch(name):
        raise ValueError(
            f"link name {name!r} must be 1-{IFNAMSIZ} characters of [A-Za-z0-9_.-], "
            "not starting with '.' or '-'"
        )
    return name


@dataclass(frozen=True)
class NameScheme:
    """The names one prefix produces, and the tests that recognise them (for clean-up)."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        validate_prefix(self.prefix)

    @property
    def _veth_re(self) -> re.Pattern[str]:
        hex_len = IFNAMSIZ - len(self.prefix) - len(_VETH_MARK)
        return re.compile(re.escape(self.prefix + _VETH_MARK) + f"[0-9a-f]{{{hex_len}}}")

    @property
    def _bridge_re(self) -> re.Pattern[str]:
        hex_len = IFNAMSIZ - len(self.prefix) - len(_BRIDGE_MARK)
        return re.compile(re.escape(self.prefix + _BRIDGE_MARK) + f"[0-9a-f]{{{hex_len}}}")

    def netns(self, appliance: str) -> str:
        """Namespace of an appliance: ``<prefix>-<appliance>``."""
        return f"{self.prefix}-{validate_appliance_name(appliance)}"

    def veth(self, appliance: str) -> str:
        """Host side of the appliance's veth: ``<prefix>v`` + hash of its namespace name."""
        return self._veth_of(self.netns(appliance))

    def _veth_of(self, netns: str) -> str:
        head = self.prefix + _VETH_MARK
        return head + _digest(netns, IFNAMSIZ - len(head))

    def bridge(self, network_id: str) -> str:
        """Bridge of a network: ``<prefix>br`` + hash of the network id (any string)."""
        if not network_id:
            raise ValueError("network id must not be empty")
        head = self.prefix + _BRIDGE_MARK
        return head + _digest(network_id, IFNAMSIZ - len(head))

    def router(self, network_id: str) -> str:
        """Namespace of the network's ECMP router: the network's bridge name + "-router"."""
        return self.bridge(network_id) + _ROUTER_SUFFIX

    def router_veth(self, network_id: str) -> str:
        """Host side of the router's veth: ``<prefix>v`` + hash of its namespace name."""
        return self._veth_of(self.router(network_id))

    def appliance_of(self, netns: str) -> str | None:
        """The appliance a namespace name belongs to, or None if this scheme did not make it."""
        head = self.prefix + "-"
        if not netns.startswith(head):
            return None
        rest = netns[len(head) :]
        return rest if _APPLIANCE_RE.fullmatch(rest) else None

    def owns_netns(self, netns: str) -> bool:
        return self.appliance_of(netns) is not None

    def owns_router(self, netns: str) -> bool:
        bridge = netns.removesuffix(_ROUTER_SUFFIX)
        return bridge != netns and self.owns_bridge(bridge)

    def owns_veth(self, link: str) -> bool:
        return self._veth_re.fullmatch(link) is not None

    def owns_bridge(self, link: str) -> bool:
        return self._bridge_re.fullmatch(link) is not None

    def owns_link(self, link: str) -> bool:
        return self.owns_veth(link) or self.owns_bridge(link)

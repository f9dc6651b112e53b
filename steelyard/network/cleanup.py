"""Remove everything one resource prefix made: what a test fixture or `steelyard cleanup` runs
after a crash.

Only names that `NameScheme(prefix)` produces are touched (see `steelyard.network.names` for
why another prefix's names, even a longer prefix starting with this one, never match).
"""

from steelyard.network.iproute import IpCommandError, host_link, host_link_names, ip_batch
from steelyard.network.names import NameScheme
from steelyard.network.namespaces import (
    NetnsState,
    kill_netns_processes,
    list_netns,
    netns_path,
    netns_state,
)


class PurgeIncomplete(RuntimeError):
    def __init__(self, left: list[str], cause: Exception | None) -> None:
        self.left = left
        super().__init__(f"could not remove {', '.join(left)}: {cause}")


def purge(prefix: str, kill_grace: float = 1.0) -> list[str]:
    """Remove every namespace (appliances' and ECMP routers'), veth and bridge named by
    `prefix`'s scheme; return their names.

    Processes inside those namespaces are ended first (SIGTERM, then SIGKILL after
    `kill_grace` seconds), since they would keep a deleted namespace alive.
    """
    scheme = NameScheme(prefix)
    namespaces = [ns for ns in list_netns() if scheme.owns_netns(ns) or scheme.owns_router(ns)]
    links = host_link_names()
    veths = [link for link in links if scheme.owns_veth(link)]
    bridges = [link for link in links if scheme.owns_bridge(link)]

    for ns in namespaces:
        state = netns_state(ns)
        if state is NetnsState.MOUNTED:
            kill_netns_processes(ns, kill_grace)
        elif state is NetnsState.STALE:
            netns_path(ns).unlink(missing_ok=True)
    # Veths first: deleting one end removes both at once, while a deleted namespace's links
    # go away asynchronously. Bridges last, once nothing is plugged into them.
    commands = [f"link del {veth}" for veth in veths]
    commands += [f"netns del {ns}" for ns in namespaces if netns_state(ns) is NetnsState.MOUNTED]
    commands += [f"link del {bridge}" for bridge in bridges]
    cause: Exception | None = None
    try:
        ip_batch(commands, force=True)
    except IpCommandError as exc:  # judged by what is left, below
        cause = exc

    left = [ns for ns in namespaces if netns_state(ns) is not NetnsState.ABSENT]
    left += [link for link in veths + bridges if host_link(link) is not None]
    if left:
        raise PurgeIncomplete(left, cause)
    return namespaces + veths + bridges

"""Helpers shared by tests: networks, backends, namespaced backends (no pytest inside).

- `VipNetwork(prefix, cidr)`: a bridge with the subnet's gateway on the host (root).
- `HttpBackend(name, host, port)`: an HTTP/1.1 backend in this process's threads.
- `BackendNamespace(prefix, name, bridge=..., address=..., prefixlen=...)` or
  `BackendNamespace.on(network, name, address)`: the same backend as a process in its own
  namespace on a bridge (root).
- `http_get(host, port, path, netns=None)`: one request, from the host or from a namespace.
- `popen_in_netns(netns, argv)`: a process inside a namespace, returned once it is in (root).
Each is a context manager, and a finalizer removes what it made if a test forgets or fails.
"""

from tests.support.backends import BackendNamespace
from tests.support.client import Response, http_get
from tests.support.http_backend import HttpBackend
from tests.support.network import VipNetwork
from tests.support.processes import popen_in_netns

__all__ = [
    "BackendNamespace",
    "HttpBackend",
    "Response",
    "VipNetwork",
    "http_get",
    "popen_in_netns",
]

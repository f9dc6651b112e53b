"""`http_get`: one HTTP request from this host, or from inside a named network namespace."""

import http.client
from dataclasses import dataclass

from steelyard.network.namespaces import run_in_netns


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: str


def http_get(
    host: str, port: int, path: str = "/", *, netns: str | None = None, timeout: float = 10
) -> Response:
    """GET http://host:port/path; with `netns`, the socket is made inside that namespace, so
    the request leaves from there (e.g. from an appliance towards a member)."""

    def get() -> Response:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return Response(resp.status, dict(resp.getheaders()), resp.read().decode())
        finally:
            conn.close()

    return get() if netns is None else run_in_netns(netns, get)

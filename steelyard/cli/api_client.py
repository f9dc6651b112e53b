"""The CLI's HTTP client for the Steelyard API (the CLI never touches the database)."""

import time
from typing import Any

import httpx


class ApiError(RuntimeError):
    def __init__(self, status: int, faultstring: str) -> None:
        super().__init__(f"HTTP {status}: {faultstring}")
        self.status = status
        self.faultstring = faultstring


class SteelyardApi:
    def __init__(self, url: str, token: str | None = None, project: str | None = None) -> None:
        headers = {}
        if token:
            headers["X-Auth-Token"] = token
        if project:
            headers["X-Project-Id"] = project
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=30)

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body)
        if response.status_code >= 400:
            try:
                fault = str(response.json().get("faultstring", response.text))
            except ValueError:
                fault = response.text
            raise ApiError(response.status_code, fault)
        return response.json() if response.content else None

    def wait_for(self, lb_id: str, status: str, timeout_s: float = 60) -> dict[str, Any]:
        """Poll a load balancer until its provisioning_status is `status` (or it is gone)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                lb: dict[str, Any] = self.call("GET", f"/v2/lbaas/loadbalancers/{lb_id}")[
                    "loadbalancer"
                ]
            except ApiError as exc:
                if exc.status == 404 and status == "DELETED":
                    return {}
                raise
            if lb["provisioning_status"] == status:
                return lb
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"load balancer {lb_id} still {lb['provisioning_status']} after {timeout_s} s"
                )
            time.sleep(0.1)

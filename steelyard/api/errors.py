"""Octavia's error bodies, for every error: {"faultcode", "faultstring", "debuginfo"}.

Client errors say what was wrong; unexpected exceptions become a 500 that says nothing about
the internals (the traceback goes to the log, under the request ID the client also sees).
"""

import json
import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from steelyard.model.faults import Fault
from steelyard.model.fields import describe_errors

log = logging.getLogger("steelyard.api")

REQUEST_ID = "x-openstack-request-id"
_HTTP_FAULTS = {
    404: "The resource could not be found.",
    405: "The method is not allowed for the requested URL.",
}


def fault_body(status: int, faultstring: str) -> dict[str, Any]:
    return {
        "faultcode": "Server" if status >= 500 else "Client",
        "faultstring": faultstring,
        "debuginfo": None,
    }


def fault_response(
    status: int, faultstring: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(fault_body(status, faultstring), status_code=status, headers=headers)


async def _on_fault(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, Fault):
        raise exc
    headers = {"WWW-Authenticate": 'Basic realm="steelyard"'} if exc.status == 401 else None
    return fault_response(exc.status, exc.faultstring, headers)


async def _on_http(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, HTTPException):
        raise exc
    text = _HTTP_FAULTS.get(exc.status_code, str(exc.detail))
    return fault_response(exc.status_code, text, dict(exc.headers or {}))


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise exc
    errors = [{**error, "loc": tuple(error["loc"])[1:]} for error in exc.errors()]
    return fault_response(400, describe_errors(errors) if errors else "Invalid request.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Fault, _on_fault)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)


class RequestIdMiddleware:
    """Outermost layer: a request ID on every response, and a bare 500 for anything that
    escaped the handlers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req-{uuid.uuid4()}"
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("request %s failed", request_id)
            if started:
                raise
            body = json.dumps(fault_body(500, "Internal Server Error")).encode()
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_id({"type": "http.response.body", "body": body})

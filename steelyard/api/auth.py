"""Who is asking: the request context from `noauth` headers or an API key.

- noauth (development): X-Project-Id names the project, X-Roles may carry roles (default
  member); without X-Project-Id the caller is an admin who sees every project. X-Auth-Token
  is ignored (OpenStack clients send "notused").
- keys: X-Auth-Token is an API key, or HTTP Basic with the key as password; missing or
  invalid: 401.

Roles as in Octavia: reader may only read, member works in its own project, admin in all.
Other projects' objects are invisible (404), never forbidden.
"""

import base64
import binascii
import hashlib
import re
import threading
import time
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from steelyard.api.settings import ApiSettings
from steelyard.db.apikeys import verify_api_key
from steelyard.model.enums import Role
from steelyard.model.faults import BadRequest, Forbidden, Unauthorized, ValidationFailure
from steelyard.model.fields import PROJECT_ID_PATTERN

MISSING_PROJECT = (
    "Missing project ID in request where one is required. An administrator should check the "
    "keystone settings in the Octavia configuration."
)


@dataclass(frozen=True)
class Context:
    project_id: str | None
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def scope(self) -> str | None:
        """The project whose objects this caller sees; None: all (admin)."""
        return None if self.is_admin else self.project_id

    def require_writer(self) -> None:
        if not (self.is_admin or Role.MEMBER in self.roles):
            raise Forbidden()

    def check_project(self, requested: str | None) -> None:
        """A non-admin may not act for another project (Octavia: 403)."""
        if requested is not None and not self.is_admin and requested != self.project_id:
            raise Forbidden()

    def owner(self, requested: str | None) -> str:
        """The project a new load balancer belongs to."""
        self.check_project(requested)
        project = requested or self.project_id
        if project is None:
            raise ValidationFailure(MISSING_PROJECT)
        return project


ADMIN = Context(project_id=None, roles=frozenset({Role.ADMIN.value}))


def _noauth(request: Request) -> Context:
    project = request.headers.get("x-project-id")
    if project is None:
        return ADMIN
    if not re.fullmatch(PROJECT_ID_PATTERN, project):
        raise BadRequest("Invalid X-Project-Id header.")
    roles = {role.strip().lower() for role in request.headers.get("x-roles", "").split(",")} - {""}
    return Context(project_id=project, roles=frozenset(roles or {Role.MEMBER.value}))


def _token(request: Request) -> str | None:
    token = request.headers.get("x-auth-token")
    if token:
        return token
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


class KeyCache:
    """Keys verified in the last `ttl_s` seconds, so that a busy client does not pay for an
    scrypt hash (tens of milliseconds) on every request. A deleted key stops working within
    `ttl_s`."""

    def __init__(self, ttl_s: float = 60.0, size: int = 1024) -> None:
        self._ttl_s, self._size = ttl_s, size
        self._lock = threading.Lock()
        self._verified: dict[str, tuple[float, tuple[str, str]]] = {}

    def verify(self, token: str, sessions: sessionmaker[Session]) -> tuple[str, str] | None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            hit = self._verified.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        with sessions() as session:
            found = verify_api_key(session, token)
        if found is not None:
            with self._lock:
                if len(self._verified) >= self._size:
                    self._verified.clear()
                self._verified[digest] = (now + self._ttl_s, found)
        return found


def _keys(request: Request, sessions: sessionmaker[Session], cache: KeyCache) -> Context:
    token = _token(request)
    if token is None:
        raise Unauthorized("Authentication required: send an API key as X-Auth-Token.")
    found = cache.verify(token, sessions)
    if found is None:
        raise Unauthorized("The request you have made requires authentication.")
    project, role = found
    return Context(project_id=project, roles=frozenset({role}))


def authenticate(
    request: Request, settings: ApiSettings, sessions: sessionmaker[Session], cache: KeyCache
) -> Context:
    if settings.auth == "noauth":
        return _noauth(request)
    return _keys(request, sessions, cache)

"""Who is asking (authentication) and what this request may touch (authorization).

- noauth (development): X-Project-Id names the project, X-Roles may carry roles (default
  member); without X-Project-Id the caller is an admin who sees every project. X-Auth-Token
  is ignored (OpenStack clients send "notused").
- keys: X-Auth-Token is an API key, or HTTP Basic with the key as password (any user name);
  missing or invalid: 401.

Roles imply others as keystone's defaults do (admin > member > reader). What a role may do is
the policy's (api/policy.py, defaults in api/policy_defaults.py); `authorize` applies the rule
of the endpoint called. Other projects' objects stay invisible (404), never forbidden: the
Context's `scope` is the only project a caller without cross-project rights can see.
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

from steelyard.api.policy import Policy, credentials, decide
from steelyard.api.settings import ApiSettings
from steelyard.db.apikeys import verify_api_key
from steelyard.model.enums import Role
from steelyard.model.faults import BadRequest, Forbidden, Unauthorized, ValidationFailure
from steelyard.model.fields import PROJECT_ID_PATTERN

MISSING_PROJECT = (
    "Missing project ID in request where one is required. An administrator should check the "
    "keystone settings in the Octavia configuration."
)


# keystone's default implied roles: an admin is also a member, a member also a reader
IMPLIED_ROLES = {
    Role.ADMIN.value: (Role.MEMBER.value, Role.READER.value),
    Role.MEMBER.value: (Role.READER.value,),
}


@dataclass(frozen=True)
class Identity:
    """Who the request authenticated as."""

    project_id: str | None
    roles: frozenset[str]


def identity(project_id: str | None, roles: set[str]) -> Identity:
    given = {role.lower() for role in roles}
    implied = {more for role in given for more in IMPLIED_ROLES.get(role, ())}
    return Identity(project_id, frozenset(given | implied))


@dataclass(frozen=True)
class Context:
    """A caller allowed to use the endpoint it called."""

    project_id: str | None
    roles: frozenset[str]
    is_admin: bool
    # The project whose objects this request may see and change; None: every project.
    scope: str | None

    def check_project(self, requested: str | None) -> None:
        """Acting for another project needs cross-project rights (Octavia: 403)."""
        if requested is not None and self.scope is not None and requested != self.scope:
            raise Forbidden()

    def owner(self, requested: str | None) -> str:
        """The project a new object belongs to."""
        self.check_project(requested)
        project = requested or self.project_id
        if project is None:
            raise ValidationFailure(MISSING_PROJECT)
        return project


def authorize(who: Identity, policy: Policy, rule: str) -> Context:
    """The Context of a caller that `rule` allows; Forbidden otherwise."""
    creds = credentials(policy, who.project_id, who.roles)
    decision = decide(policy, rule, creds)
    if not decision.allowed or (who.project_id is None and not decision.every_project):
        raise Forbidden()
    scope = None if decision.every_project else who.project_id
    return Context(who.project_id, who.roles, creds.is_admin, scope)


NOAUTH_ADMIN = identity(None, {Role.ADMIN.value})


def _noauth(request: Request) -> Identity:
    project = request.headers.get("x-project-id")
    if project is None:
        return NOAUTH_ADMIN
    if not re.fullmatch(PROJECT_ID_PATTERN, project):
        raise BadRequest("Invalid X-Project-Id header.")
    roles = {role.strip() for role in request.headers.get("x-roles", "").split(",")} - {""}
    return identity(project, roles or {Role.MEMBER.value})


def _token(request: Request) -> str | None:
    token = request.headers.get("x-auth-token")
    if token:
        return token
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
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


def _keys(request: Request, sessions: sessionmaker[Session], cache: KeyCache) -> Identity:
    token = _token(request)
    if token is None:
        raise Unauthorized("Authentication required: send an API key as X-Auth-Token.")
    found = cache.verify(token, sessions)
    if found is None:
        raise Unauthorized("The request you have made requires authentication.")
    project, role = found
    return identity(project, {role})


def authenticate(
    request: Request, settings: ApiSettings, sessions: sessionmaker[Session], cache: KeyCache
) -> Identity:
    if settings.auth == "noauth":
        return _noauth(request)
    return _keys(request, sessions, cache)

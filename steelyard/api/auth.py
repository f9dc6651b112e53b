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
import re
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


def _keys(request: Request, sessions: sessionmaker[Session]) -> Context:
    token = _token(request)
    if token is None:
        raise Unauthorized("Authentication required: send an API key as X-Auth-Token.")
    with sessions() as session:
        found = verify_api_key(session, token)
    if found is None:
        raise Unauthorized("The request you have made requires authentication.")
    project, role = found
    return Context(project_id=project, roles=frozenset({role}))


def authenticate(
    request: Request, settings: ApiSettings, sessions: sessionmaker[Session]
) -> Context:
    if settings.auth == "noauth":
        return _noauth(request)
    return _keys(request, sessions)

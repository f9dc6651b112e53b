"""Built-in API keys: "sy_<lookup>.<secret>", stored as a salted scrypt hash.

The lookup part is public and indexed (it finds the row); only the hash of the whole key is
stored, so a copy of the database does not yield usable keys. The key is shown once.
"""

import base64
import hashlib
import hmac
import re
import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.access import utcnow
from steelyard.model.enums import Role
from steelyard.model.fields import PROJECT_ID_PATTERN

PREFIX = "sy_"
_TOKEN = re.compile(r"^sy_([0-9a-f]{16})\.([A-Za-z0-9_-]{20,128})$")
# scrypt cost: 16 MiB and a few tens of milliseconds per check
_N, _R, _P = 2**14, 8, 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _scrypt(token: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(token.encode("ascii"), salt=salt, n=n, r=r, p=p, dklen=32)


def _hash(token: str) -> str:
    salt = secrets.token_bytes(16)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(_scrypt(token, salt, _N, _R, _P))}"


def _matches(token: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = _scrypt(token, base64.urlsafe_b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, base64.urlsafe_b64decode(digest))


def create_api_key(session: Session, project_id: str, role: str, description: str = "") -> str:
    """Store a new key for `project_id` with `role` (reader, member or admin); return the key.

    The caller commits. The returned secret cannot be recovered later.
    """
    Role(role)  # ValueError for anything else
    if not re.fullmatch(PROJECT_ID_PATTERN, project_id):
        raise ValueError(f"invalid project id {project_id!r}")
    lookup = secrets.token_hex(8)
    token = f"{PREFIX}{lookup}.{secrets.token_urlsafe(32)}"
    session.add(
        m.ApiKey(
            id=str(uuid.uuid4()),
            lookup=lookup,
            secret_hash=_hash(token),
            project_id=project_id,
            role=role,
            description=description[:255],
            created_at=utcnow(),
        )
    )
    return token


def verify_api_key(session: Session, token: str) -> tuple[str, str] | None:
    """(project_id, role) of a valid key, else None."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    row = session.scalar(select(m.ApiKey).where(m.ApiKey.lookup == match.group(1)))
    if row is None or not _matches(token, row.secret_hash):
        return None
    return row.project_id, row.role

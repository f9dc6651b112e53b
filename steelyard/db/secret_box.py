"""Encryption at rest of the secret store: AES-256-GCM with one key per deployment.

The key is a file of the server's state directory (`secrets.key`, 0600, made at first start);
the composition root reads it and hands it to the API (which seals new secrets) and to the
reconciler (which opens them for the appliances). Each sealed value carries its own random
nonce, and the secret's id, project and version are authenticated with it: a sealed value
copied to another row, or left behind by a rotation, does not open.
"""

import base64
import binascii
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_FILE = "secrets.key"


class SecretBoxError(Exception):
    """A sealed value that does not open with this key (wrong key, or tampered with)."""


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the secret store key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def seal(self, plaintext: str, context: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def open(self, sealed: bytes, context: str) -> str:
        nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, body, context.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise SecretBoxError("a secret does not open with this deployment's key") from exc


def seal_context(secret_id: str, project_id: str, version: str) -> str:
    """What a sealed value is bound to (authenticated, not encrypted)."""
    return f"steelyard-secret:{secret_id}:{project_id}:{version}"


def load_or_create_key(path: Path) -> bytes:
    """The deployment's key, made on first use (base64 text, 0600). A key file that others may
    read is refused rather than used."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ValueError(f"{path} is readable by others (mode {mode:o}); it must be 0600")
    try:
        key = base64.b64decode(path.read_text().strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{path} does not hold a base64 key") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path} must hold a {KEY_BYTES}-byte key")
    return key

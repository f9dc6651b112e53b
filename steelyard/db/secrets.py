"""The TLS secret store (issue 6): secrets of a project, the references listeners and pools
hold to them, and the decrypted material the reconciler hands to the appliances.

A reference names a secret of the same project (`model/tls.py secret_id_of`); any other
(unknown, another project's, garbage) is Octavia's 400 "Could not retrieve certificate". A
secret in use cannot be deleted (409); new content for it (rotation) bumps every load balancer
that uses it, and each re-applies with the new files.
"""

import secrets as random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.access import WrittenMany, bump_generations, mark_updated
from steelyard.db.secret_box import SecretBox, seal_context
from steelyard.model.enums import ClientAuthentication, ListenerProtocol, PoolProtocol
from steelyard.model.faults import BadRequest, Conflict, NotFound, ValidationFailure, echo
from steelyard.model.secret import (
    InvalidSecret,
    ParsedSecret,
    SecretCreate,
    SecretMaterial,
    SecretOut,
    SecretType,
    SecretUpdate,
    parse_secret,
)
from steelyard.model.spec import ListenerTlsSpec, LoadBalancerSpec, PoolTlsSpec, TlsFile
from steelyard.model.tls import (
    ListenerTls,
    PoolTls,
    secret_id_of,
    secret_ref,
    settle_listener_tls,
    settle_pool_tls,
    stored_listener_tls,
    stored_pool_tls,
)

# Which kind of secret each reference attribute takes.
LISTENER_REFS = {
    "default_tls_container_ref": SecretType.CERTIFICATE,
    "sni_container_refs": SecretType.CERTIFICATE,
    "client_ca_tls_container_ref": SecretType.CA,
    "client_crl_container_ref": SecretType.CRL,
}
POOL_REFS = {
    "tls_container_ref": SecretType.CERTIFICATE,
    "ca_tls_container_ref": SecretType.CA,
    "crl_container_ref": SecretType.CRL,
}


def _out(row: m.Secret, api_base: str) -> SecretOut:
    return SecretOut(
        id=row.id,
        name=row.name,
        project_id=row.project_id,
        type=SecretType(row.type),
        secret_ref=secret_ref(api_base, row.id),
        subject=row.subject,
        issuer=row.issuer,
        subject_alt_names=list(row.subject_alt_names),
        not_before=row.not_before,
        not_after=row.not_after,
        fingerprint_sha256=row.fingerprint_sha256,
        certificates=row.certificates,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _scoped(scope: str | None) -> list[ColumnElement[bool]]:
    """Another project's secrets are invisible (404), an admin (scope None) sees all."""
    return [] if scope is None else [m.Secret.project_id == scope]


def _visible(session: Session, scope: str | None, ident: str) -> m.Secret:
    row = session.scalar(select(m.Secret).where(m.Secret.id == ident, *_scoped(scope)))
    if row is None:
        raise NotFound("Secret", ident)
    return row


def _parsed(
    body: SecretCreate | SecretUpdate, now: datetime, expected: SecretType | None
) -> ParsedSecret:
    try:
        return parse_secret(body.pem, body.pkcs12, body.passphrase, now, expected or body.type)
    except InvalidSecret as exc:
        raise BadRequest(f"Invalid secret: {exc}") from None


def _store(row: m.Secret, parsed: ParsedSecret, box: SecretBox) -> None:
    """New content: a new version, sealed to the row."""
    row.type = parsed.type.value
    row.version = random.token_hex(8)
    row.sealed = box.seal(parsed.material, seal_context(row.id, row.project_id, row.version))
    row.subject = parsed.subject
    row.issuer = parsed.issuer
    row.subject_alt_names = list(parsed.subject_alt_names)
    row.not_before = parsed.not_before
    row.not_after = parsed.not_after
    row.fingerprint_sha256 = parsed.fingerprint_sha256
    row.certificates = parsed.certificates


def create_secret(
    session: Session,
    project_id: str,
    body: SecretCreate,
    box: SecretBox,
    api_base: str,
    now: datetime,
    new_id: str,
) -> SecretOut:
    parsed = _parsed(body, now, None)
    row = m.Secret(id=new_id, project_id=project_id, name=body.name or "", created_at=now)
    _store(row, parsed, box)
    session.add(row)
    session.flush()
    return _out(row, api_base)


def list_secrets(session: Session, scope: str | None, api_base: str) -> list[SecretOut]:
    rows = session.scalars(
        select(m.Secret).where(*_scoped(scope)).order_by(m.Secret.created_at, m.Secret.id)
    )
    return [_out(row, api_base) for row in rows]


def get_secret(session: Session, scope: str | None, ident: str, api_base: str) -> SecretOut:
    return _out(_visible(session, scope, ident), api_base)


def update_secret(
    session: Session,
    scope: str | None,
    ident: str,
    body: SecretUpdate,
    box: SecretBox,
    api_base: str,
    now: datetime,
) -> WrittenMany[SecretOut]:
    """A new name, and/or new content of the same type. New content re-applies every load
    balancer whose listeners or pools use the secret (their rows go PENDING_UPDATE)."""
    row = _visible(session, scope, ident)
    if "name" in body.model_fields_set:
        row.name = body.name or ""
    touched: list[str] = []
    if body.pem is not None or body.pkcs12 is not None:
        _store(row, _parsed(body, now, SecretType(row.type)), box)
        users = _users(session, row)
        for user in users:
            mark_updated(user, now)
        touched = sorted({user.loadbalancer_id for user in users})
        locked = session.scalars(
            select(m.LoadBalancer)
            .where(m.LoadBalancer.id.in_(touched), m.LoadBalancer.deleting.is_(False))
            .with_for_update()
        ).all()
        touched = sorted(lb.id for lb in locked)
        bump_generations(session, touched, now)
    row.updated_at = now
    session.flush()
    return WrittenMany(_out(row, api_base), tuple(touched))


def delete_secret(session: Session, scope: str | None, ident: str) -> None:
    row = _visible(session, scope, ident)
    users = _users(session, row)
    if users:
        named = ", ".join(f"{type(u).__name__.lower()} {u.id}" for u in users[:5])
        raise Conflict(f"Secret {row.id} is in use by {named}; remove the references first.")
    session.delete(row)


def _users(session: Session, secret: m.Secret) -> list[m.Listener | m.Pool]:
    """Listeners and pools of the secret's project that refer to it (PENDING_DELETE ones too:
    their appliances still read the file until the reconciler removes them)."""
    L, P = m.Listener, m.Pool
    found: list[m.Listener | m.Pool] = []
    listeners = session.scalars(
        select(L).where(
            L.project_id == secret.project_id,
            L.protocol == ListenerProtocol.TERMINATED_HTTPS.value,
        )
    )
    for listener in listeners:
        if secret.id in _ids(stored_listener_tls(listener).refs()):
            found.append(listener)
    pools = session.scalars(
        select(P).where(
            P.project_id == secret.project_id,
            or_(
                P.tls_container_ref.is_not(None),
                P.ca_tls_container_ref.is_not(None),
                P.crl_container_ref.is_not(None),
            ),
        )
    )
    for pool in pools:
        if secret.id in _ids(stored_pool_tls(pool).refs()):
            found.append(pool)
    return found


def _ids(refs: Iterable[str]) -> set[str]:
    return {sid for sid in (secret_id_of(ref) for ref in refs) if sid is not None}


def _check_refs(
    session: Session, project_id: str, values: dict[str, Any], kinds: dict[str, SecretType]
) -> None:
    """Every reference names a secret of this project, of the kind its attribute takes."""
    missing: list[str] = []
    for attribute, kind in kinds.items():
        value = values.get(attribute)
        for ref in value if isinstance(value, list) else [value] if value else []:
            sid = secret_id_of(ref)
            row = session.get(m.Secret, sid) if sid is not None else None
            if row is None or row.project_id != project_id:
                missing.append(ref)
            elif row.type != kind.value:
                raise ValidationFailure(
                    f"{attribute} needs a {kind.value} secret; {echo(ref)} is a {row.type}."
                )
    if missing:
        # References passed the model's check (printable ASCII, 255 characters at most).
        raise BadRequest(f"Could not retrieve certificate: {missing}")


def _tls_columns(
    session: Session,
    project_id: str,
    settle: Callable[[], BaseModel],
    refs: dict[str, SecretType],
) -> dict[str, Any]:
    """`settle()` applies Octavia's rules and defaults (a ValueError is the client's 400),
    then every secret reference is checked."""
    try:
        settled = settle()
    except ValueError as exc:
        raise ValidationFailure(str(exc)) from None
    values = settled.model_dump(mode="json")
    _check_refs(session, project_id, values, refs)
    return values


def listener_tls_columns(
    session: Session, project_id: str, protocol: ListenerProtocol | str, tls: ListenerTls
) -> dict[str, Any]:
    """The listener's TLS columns after Octavia's rules and defaults, references checked."""

    def settle() -> BaseModel:
        return settle_listener_tls(ListenerProtocol(protocol), tls)

    return _tls_columns(session, project_id, settle, LISTENER_REFS)


def pool_tls_columns(
    session: Session, project_id: str, protocol: PoolProtocol | str, tls: PoolTls
) -> dict[str, Any]:
    """The same for a pool's TLS columns."""

    def settle() -> BaseModel:
        return settle_pool_tls(PoolProtocol(protocol), tls)

    return _tls_columns(session, project_id, settle, POOL_REFS)


def tls_specs(
    session: Session, listeners: Sequence[m.Listener], pools: Sequence[m.Pool]
) -> tuple[dict[str, ListenerTlsSpec], dict[str, PoolTlsSpec]]:
    """The render specs of TERMINATED_HTTPS listeners and TLS-enabled pools, by row id.

    A secret that has gone (it cannot while referenced) gets an empty version; the material
    loader then names it (`load_materials`)."""
    listener_tls = {
        row.id: stored_listener_tls(row)
        for row in listeners
        if row.protocol == ListenerProtocol.TERMINATED_HTTPS.value
    }
    pool_tls = {row.id: stored_pool_tls(row) for row in pools if row.tls_enabled}
    wanted = _ids(ref for tls in listener_tls.values() for ref in tls.refs())
    wanted |= _ids(ref for tls in pool_tls.values() for ref in tls.refs())
    versions = dict(
        session.execute(select(m.Secret.id, m.Secret.version).where(m.Secret.id.in_(wanted))).all()
    )

    def file(ref: str | None) -> TlsFile | None:
        sid = secret_id_of(ref) if ref else None
        return None if sid is None else TlsFile(sid, versions.get(sid, ""))

    listener_specs = {}
    for ident, tls in listener_tls.items():
        certificates = [
            file(ref) for ref in [tls.default_tls_container_ref, *tls.sni_container_refs]
        ]
        listener_specs[ident] = ListenerTlsSpec(
            certificates=tuple(ref for ref in certificates if ref is not None),
            client_authentication=ClientAuthentication(tls.client_authentication),
            client_ca=file(tls.client_ca_tls_container_ref),
            client_crl=file(tls.client_crl_container_ref),
            tls_versions=tuple(tls.tls_versions or ()),
            ciphers=tls.tls_ciphers,
            alpn_protocols=tuple(tls.alpn_protocols or ()),
            hsts_max_age=tls.hsts_max_age,
            hsts_include_subdomains=tls.hsts_include_subdomains,
            hsts_preload=tls.hsts_preload,
        )
    pool_specs = {
        ident: PoolTlsSpec(
            client_certificate=file(tls.tls_container_ref),
            ca=file(tls.ca_tls_container_ref),
            crl=file(tls.crl_container_ref),
            tls_versions=tuple(tls.tls_versions or ()),
            ciphers=tls.tls_ciphers,
            alpn_protocols=tuple(tls.alpn_protocols or ()),
        )
        for ident, tls in pool_tls.items()
    }
    return listener_specs, pool_specs


class SecretUnavailable(Exception):
    """A secret a spec names is gone or does not open (the reconcile fails and is retried)."""


def load_materials(
    session: Session, spec: LoadBalancerSpec, box: SecretBox | None
) -> dict[str, SecretMaterial]:
    """The decrypted secrets a spec names, by id (for render/haproxy_tls.py `tls_files`)."""
    refs: dict[str, list[str]] = defaultdict(list)
    for listener in spec.listeners:
        if listener.tls is not None:
            tls = listener.tls
            for ref in [*tls.certificates, tls.client_ca, tls.client_crl]:
                if ref is not None:
                    refs[ref.secret_id].append(f"listener {listener.id}")
    for pool in spec.pools:
        if pool.tls is not None:
            for ref in (pool.tls.client_certificate, pool.tls.ca, pool.tls.crl):
                if ref is not None:
                    refs[ref.secret_id].append(f"pool {pool.id}")
    if not refs:
        return {}
    if box is None:
        raise SecretUnavailable("TLS needs the secret store key, and none was configured")
    rows = {row.id: row for row in session.scalars(select(m.Secret).where(m.Secret.id.in_(refs)))}
    materials = {}
    for sid, users in refs.items():
        row = rows.get(sid)
        if row is None:
            raise SecretUnavailable(f"secret {sid} of {users[0]} no longer exists")
        pem = box.open(row.sealed, seal_context(row.id, row.project_id, row.version))
        materials[sid] = SecretMaterial(sid, row.version, pem)
    return materials

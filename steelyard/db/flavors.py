"""Flavors and availability zones, their profiles, and what they make of a new load balancer.

Admins manage all four; everyone may list and show the enabled flavors and zones (disabled
ones are invisible to non-admins). A profile's provider data is checked by its provider at
every write and may not change while a flavor or zone uses the profile; a profile, flavor or
zone in use cannot be deleted (409), as in Octavia. No write here touches a load balancer
(`WrittenMany(result, ())`).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from steelyard.db import models as m
from steelyard.db.access import REQUIRED, WrittenMany, apply_update, utcnow
from steelyard.db.listing import list_page
from steelyard.model.enums import Topology
from steelyard.model.faults import BadRequest, Conflict, NotFound, ValidationFailure, echo
from steelyard.model.flavor import (
    AvailabilityZoneCreate,
    AvailabilityZoneOut,
    AvailabilityZoneProfileOut,
    AvailabilityZoneUpdate,
    FlavorCreate,
    FlavorOut,
    FlavorProfileOut,
    FlavorUpdate,
)
from steelyard.model.listing import ListQuery
from steelyard.model.provider import (
    APPLIANCE,
    ApplianceFlavor,
    Shape,
    parse_flavor_data,
    parse_zone_data,
    provider,
    shape,
)

P = TypeVar("P", m.FlavorProfile, m.AvailabilityZoneProfile)


def _in_use(resource: str, ident: str) -> Conflict:
    return Conflict(f"{resource} {echo(ident)} is in use and cannot be modified.")


def _used(session: Session, column: InstrumentedAttribute[Any], value: str) -> bool:
    return session.scalar(select(column).where(column == value).limit(1)) is not None


def _visible(admin: bool, enabled: InstrumentedAttribute[bool]) -> list[ColumnElement[bool]]:
    return [] if admin else [enabled.is_(True)]


# --- profiles ---


@dataclass(frozen=True)
class ProfileKind(Generic[P]):
    """What differs between flavor profiles and availability zone profiles."""

    table: type[P]
    resource: str  # as faultstrings name it
    data: str  # the provider data attribute
    check: Callable[[str, str], object]  # (provider, data): a 400 unless the provider takes it
    users: InstrumentedAttribute[str]  # the profile id column of what uses a profile
    out: Callable[[P], BaseModel]

    def get(self, session: Session, ident: str, lock: bool = False) -> P:
        row = session.get(self.table, ident, with_for_update=lock)
        if row is None:
            raise NotFound(self.resource, ident)
        return row


FLAVOR_PROFILES = ProfileKind(
    m.FlavorProfile,
    "Flavor profile",
    "flavor_data",
    parse_flavor_data,
    m.Flavor.flavor_profile_id,
    lambda row: FlavorProfileOut(
        id=row.id, name=row.name, provider_name=row.provider_name, flavor_data=row.flavor_data
    ),
)
ZONE_PROFILES = ProfileKind(
    m.AvailabilityZoneProfile,
    "Availability Zone Profile",
    "availability_zone_data",
    parse_zone_data,
    m.AvailabilityZone.availability_zone_profile_id,
    lambda row: AvailabilityZoneProfileOut(
        id=row.id,
        name=row.name,
        provider_name=row.provider_name,
        availability_zone_data=row.availability_zone_data,
    ),
)


def list_profiles(session: Session, kind: ProfileKind[P], query: ListQuery) -> list[BaseModel]:
    attributes = ("id", "name", "provider_name", kind.data)
    return [kind.out(row) for row in list_page(session, kind.table, query, attributes)]


def get_profile(session: Session, kind: ProfileKind[P], ident: str) -> BaseModel:
    return kind.out(kind.get(session, ident))


def create_profile(session: Session, kind: ProfileKind[P], body: Any) -> WrittenMany[BaseModel]:
    data: str = getattr(body, kind.data)
    kind.check(body.provider_name, data)
    row = kind.table(
        id=str(uuid.uuid4()),
        name=body.name,
        provider_name=body.provider_name,
        created_at=utcnow(),
        **{kind.data: data},
    )
    session.add(row)
    session.flush()
    return WrittenMany(kind.out(row), ())


def update_profile(
    session: Session, kind: ProfileKind[P], ident: str, body: BaseModel
) -> WrittenMany[BaseModel]:
    row = kind.get(session, ident, lock=True)
    given = body.model_fields_set
    if {"provider_name", kind.data} & given and _used(session, kind.users, row.id):
        raise _in_use(kind.resource, row.id)
    apply_update(row, body, dict.fromkeys(("name", "provider_name", kind.data), REQUIRED))
    kind.check(row.provider_name, getattr(row, kind.data))
    row.updated_at = utcnow()
    session.flush()
    return WrittenMany(kind.out(row), ())


def delete_profile(session: Session, kind: ProfileKind[P], ident: str) -> WrittenMany[None]:
    row = kind.get(session, ident, lock=True)
    if _used(session, kind.users, row.id):
        raise _in_use(kind.resource, row.id)
    session.delete(row)
    return WrittenMany(None, ())


# --- flavors ---

FLAVOR_ATTRIBUTES = ("id", "name", "description", "enabled", "flavor_profile_id")


def _flavor_out(row: m.Flavor) -> FlavorOut:
    return FlavorOut(**{name: getattr(row, name) for name in FLAVOR_ATTRIBUTES})


def _flavor(session: Session, admin: bool, ident: str, lock: bool = False) -> m.Flavor:
    row = session.get(m.Flavor, ident, with_for_update=lock)
    if row is None or not (admin or row.enabled):
        raise NotFound("Flavor", ident)
    return row


def _unique_flavor_name(session: Session, name: str) -> None:
    if _used(session, m.Flavor.name, name):
        raise Conflict(f"A flavor of {echo(name)} already exists.")


def list_flavors(session: Session, admin: bool, query: ListQuery) -> list[FlavorOut]:
    where = _visible(admin, m.Flavor.enabled)
    return [
        _flavor_out(row) for row in list_page(session, m.Flavor, query, FLAVOR_ATTRIBUTES, where)
    ]


def get_flavor(session: Session, admin: bool, ident: str) -> FlavorOut:
    return _flavor_out(_flavor(session, admin, ident))


def create_flavor(session: Session, body: FlavorCreate) -> WrittenMany[FlavorOut]:
    if session.get(m.FlavorProfile, body.flavor_profile_id) is None:
        raise BadRequest(f"{body.flavor_profile_id} is not a valid option for flavor_profile_id")
    _unique_flavor_name(session, body.name)
    row = m.Flavor(
        id=str(uuid.uuid4()),
        name=body.name,
        description=body.description or "",
        enabled=body.enabled,
        flavor_profile_id=body.flavor_profile_id,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return WrittenMany(_flavor_out(row), ())


def update_flavor(session: Session, ident: str, body: FlavorUpdate) -> WrittenMany[FlavorOut]:
    row = _flavor(session, True, ident, lock=True)
    if body.name is not None and body.name != row.name:
        _unique_flavor_name(session, body.name)
    apply_update(row, body, {"name": REQUIRED, "description": "", "enabled": REQUIRED})
    row.updated_at = utcnow()
    session.flush()
    return WrittenMany(_flavor_out(row), ())


def delete_flavor(session: Session, ident: str) -> WrittenMany[None]:
    row = _flavor(session, True, ident, lock=True)
    if _used(session, m.LoadBalancer.flavor_id, row.id):
        raise _in_use("Flavor", row.id)
    session.delete(row)
    return WrittenMany(None, ())


# --- availability zones (their name is their key) ---

ZONE_ATTRIBUTES = ("name", "description", "enabled", "availability_zone_profile_id")


def _zone_out(row: m.AvailabilityZone) -> AvailabilityZoneOut:
    return AvailabilityZoneOut(**{name: getattr(row, name) for name in ZONE_ATTRIBUTES})


def _zone(session: Session, admin: bool, name: str, lock: bool = False) -> m.AvailabilityZone:
    row = session.get(m.AvailabilityZone, name, with_for_update=lock)
    if row is None or not (admin or row.enabled):
        raise NotFound("Availability Zone", name)
    return row


def list_zones(session: Session, admin: bool, query: ListQuery) -> list[AvailabilityZoneOut]:
    where = _visible(admin, m.AvailabilityZone.enabled)
    rows = list_page(session, m.AvailabilityZone, query, ZONE_ATTRIBUTES, where)
    return [_zone_out(row) for row in rows]


def get_zone(session: Session, admin: bool, name: str) -> AvailabilityZoneOut:
    return _zone_out(_zone(session, admin, name))


def create_zone(session: Session, body: AvailabilityZoneCreate) -> WrittenMany[AvailabilityZoneOut]:
    profile_id = body.availability_zone_profile_id
    if session.get(m.AvailabilityZoneProfile, profile_id) is None:
        raise BadRequest(f"{profile_id} is not a valid option for availability_zone_profile_id")
    if session.get(m.AvailabilityZone, body.name) is not None:
        raise Conflict(f"A availability zone of {echo(body.name)} already exists.")
    row = m.AvailabilityZone(
        name=body.name,
        description=body.description or "",
        enabled=body.enabled,
        availability_zone_profile_id=profile_id,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return WrittenMany(_zone_out(row), ())


def update_zone(
    session: Session, name: str, body: AvailabilityZoneUpdate
) -> WrittenMany[AvailabilityZoneOut]:
    row = _zone(session, True, name, lock=True)
    apply_update(row, body, {"description": "", "enabled": REQUIRED})
    row.updated_at = utcnow()
    session.flush()
    return WrittenMany(_zone_out(row), ())


def delete_zone(session: Session, name: str) -> WrittenMany[None]:
    row = _zone(session, True, name, lock=True)
    if _used(session, m.LoadBalancer.availability_zone, row.name):
        raise _in_use("Availability Zone", row.name)
    session.delete(row)
    return WrittenMany(None, ())


# --- a new load balancer ---


@dataclass(frozen=True)
class Placement:
    """What the request's flavor, provider and zone make of a new load balancer."""

    provider: str
    shape: Shape


def _provider_of_flavor(session: Session, flavor_id: str) -> tuple[str, ApplianceFlavor]:
    flavor = session.get(m.Flavor, flavor_id)
    if flavor is None:
        raise ValidationFailure("Invalid flavor_id.")
    if not flavor.enabled:
        raise BadRequest(f"The selected flavor is not allowed in this deployment: {flavor_id}")
    profile = session.get_one(m.FlavorProfile, flavor.flavor_profile_id)
    # checked again, as Octavia does: the provider's rules may have changed since
    return profile.provider_name, parse_flavor_data(profile.provider_name, profile.flavor_data)


def _check_zone(session: Session, name: str, provider_name: str) -> None:
    zone = session.get(m.AvailabilityZone, name)
    if zone is None:
        raise ValidationFailure("Invalid availability zone.")
    if not zone.enabled:
        raise BadRequest(
            f"The selected availability_zone is not allowed in this deployment: {echo(name)}"
        )
    profile = session.get_one(m.AvailabilityZoneProfile, zone.availability_zone_profile_id)
    if profile.provider_name != provider_name:
        raise BadRequest(
            f"Availability zone '{echo(name)}' is not compatible with provider '{provider_name}'"
        )
    parse_zone_data(profile.provider_name, profile.availability_zone_data)


def placement(
    session: Session,
    flavor_id: str | None,
    provider_name: str | None,
    zone: str | None,
    default_topology: Topology,
) -> Placement:
    """The provider (the request's, else the flavor's, else `appliance`) and the shape (the
    flavor's, else the operator's default topology), or a 400 saying what does not fit."""
    flavor = ApplianceFlavor()
    if flavor_id is not None:
        flavor_provider, flavor = _provider_of_flavor(session, flavor_id)
        if provider_name is not None and provider_name != flavor_provider:
            raise BadRequest(
                f"Flavor '{flavor_id}' is not compatible with provider '{echo(provider_name)}'"
            )
        provider_name = flavor_provider
    chosen = provider(APPLIANCE if provider_name is None else provider_name)
    if zone is not None:
        _check_zone(session, zone, chosen.name)
    return Placement(chosen.name, shape(flavor, default_topology))

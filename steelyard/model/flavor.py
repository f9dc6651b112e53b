"""Flavor, flavor profile, availability zone and availability zone profile bodies (Octavia v2
`flavor`, `flavorprofile`, `availability_zone`, `availability_zone_profile`).

A profile holds a provider's data as a JSON *string* (`flavor_data`,
`availability_zone_data`), as in Octavia; model/provider.py says what each provider accepts.
"""

from typing import Annotated

from pydantic import StringConstraints

from steelyard.model.fields import Body, Out, Text, Uuid, matching
from steelyard.model.provider import MAX_DATA

ProviderData = Annotated[str, StringConstraints(max_length=MAX_DATA)]
# a zone is addressed by its name in URLs (/availabilityzones/{name}): no '/'
ZoneName = Annotated[Text, StringConstraints(min_length=1), matching(r"[^/]+", "no '/' allowed")]


class FlavorProfileCreate(Body):
    name: Text
    provider_name: Text
    flavor_data: ProviderData


class FlavorProfileUpdate(Body):
    name: Text | None = None
    provider_name: Text | None = None
    flavor_data: ProviderData | None = None


class FlavorProfileCreateRoot(Body):
    flavorprofile: FlavorProfileCreate


class FlavorProfileUpdateRoot(Body):
    flavorprofile: FlavorProfileUpdate


class FlavorProfileOut(Out):
    id: str
    name: str
    provider_name: str
    flavor_data: str


class FlavorCreate(Body):
    name: Text
    description: Text | None = None
    enabled: bool = True
    flavor_profile_id: Uuid


class FlavorUpdate(Body):
    name: Text | None = None
    description: Text | None = None
    enabled: bool | None = None


class FlavorCreateRoot(Body):
    flavor: FlavorCreate


class FlavorUpdateRoot(Body):
    flavor: FlavorUpdate


class FlavorOut(Out):
    id: str
    name: str
    description: str
    enabled: bool
    flavor_profile_id: str


class AvailabilityZoneProfileCreate(Body):
    name: Text
    provider_name: Text
    availability_zone_data: ProviderData


class AvailabilityZoneProfileUpdate(Body):
    name: Text | None = None
    provider_name: Text | None = None
    availability_zone_data: ProviderData | None = None


class AvailabilityZoneProfileCreateRoot(Body):
    availability_zone_profile: AvailabilityZoneProfileCreate


class AvailabilityZoneProfileUpdateRoot(Body):
    availability_zone_profile: AvailabilityZoneProfileUpdate


class AvailabilityZoneProfileOut(Out):
    id: str
    name: str
    provider_name: str
    availability_zone_data: str


class AvailabilityZoneCreate(Body):
    name: ZoneName
    description: Text | None = None
    enabled: bool = True
    availability_zone_profile_id: Uuid


class AvailabilityZoneUpdate(Body):
    description: Text | None = None
    enabled: bool | None = None


class AvailabilityZoneCreateRoot(Body):
    availability_zone: AvailabilityZoneCreate


class AvailabilityZoneUpdateRoot(Body):
    availability_zone: AvailabilityZoneUpdate


class AvailabilityZoneOut(Out):
    name: str
    description: str
    enabled: bool
    availability_zone_profile_id: str

    @property
    def id(self) -> str:
        """The key of pagination markers (Octavia pages zones by name)."""
        return self.name

"""Member request and response bodies (Octavia v2 `member`)."""

from typing import Annotated

from pydantic import Field

from steelyard.model.enums import OperatingStatus, ProvisioningStatus
from steelyard.model.fields import (
    Body,
    IPAddress,
    Out,
    Port,
    ProjectId,
    Tags,
    Text,
    Timestamp,
    Uuid,
)

Weight = Annotated[int, Field(ge=0, le=256)]
DEFAULT_WEIGHT = 1


class MemberSingleCreate(Body):
    name: Text | None = None
    admin_state_up: bool = True
    address: IPAddress
    protocol_port: Port
    weight: Weight = DEFAULT_WEIGHT
    backup: bool = False
    subnet_id: Uuid | None = None
    monitor_address: IPAddress | None = None
    monitor_port: Port | None = None
    tags: Tags = Field(default_factory=list)


class MemberCreate(MemberSingleCreate):
    project_id: ProjectId | None = None


class MemberCreateRoot(Body):
    member: MemberCreate


class MembersBatchRoot(Body):
    members: Annotated[list[MemberCreate], Field(max_length=1000)]


class MemberUpdate(Body):
    """Set attributes; null resets one to its default (what `openstack ... unset` sends)."""

    name: Text | None = None
    admin_state_up: bool | None = None
    weight: Weight | None = None
    backup: bool | None = None
    monitor_address: IPAddress | None = None
    monitor_port: Port | None = None
    tags: Tags | None = None


class MemberUpdateRoot(Body):
    member: MemberUpdate


class MemberOut(Out):
    id: str
    name: str
    operating_status: OperatingStatus
    provisioning_status: ProvisioningStatus
    admin_state_up: bool
    address: str
    protocol_port: int
    weight: int
    backup: bool
    subnet_id: str | None
    project_id: str
    created_at: Timestamp
    updated_at: Timestamp | None
    monitor_address: str | None
    monitor_port: int | None
    tags: list[str]

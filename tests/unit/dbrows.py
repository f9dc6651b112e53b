"""A real, migrated SQLite file and the rows unit tests of the controller side need."""

import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.engine import make_engine, make_sessionmaker
from steelyard.db.migrate import upgrade

T0 = datetime(2026, 1, 1, 12, 0, 0)

Sessions = Callable[[], Session]


@pytest.fixture
def sessions(tmp_path: Path) -> Sessions:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    return make_sessionmaker(engine)


def add_lb(sessions: Sessions, *, desired: int = 1, applied: int = 0) -> str:
    lb_id = str(uuid.uuid4())
    with sessions() as s:
        net_id, sub_id = str(uuid.uuid4()), str(uuid.uuid4())
        s.add(
            m.Network(
                id=net_id,
                name=f"n-{net_id[:8]}",
                project_id="admin",
                kind="loopback",
                created_at=T0,
            )
        )
        s.add(
            m.Subnet(
                id=sub_id, network_id=net_id, cidr="127.226.0.0/24", ip_version=4, created_at=T0
            )
        )
        s.flush()
        s.add(
            m.LoadBalancer(
                id=lb_id,
                project_id="p1",
                provisioning_status="PENDING_CREATE",
                operating_status="OFFLINE",
                vip_address="127.226.0.5",
                vip_network_id=net_id,
                vip_subnet_id=sub_id,
                vip_port_id=str(uuid.uuid4()),
                created_at=T0,
                desired_generation=desired,
                applied_generation=applied,
            )
        )
        s.commit()
    return lb_id

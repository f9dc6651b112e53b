"""A deployment whose appliances cannot run a topology (the process driver: SINGLE only)
refuses load balancers of that topology at create, instead of leaving them in ERROR."""

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from steelyard.db import models
from steelyard.model.enums import Topology
from tests.unit.api.conftest import MakeClient


def test_a_topology_the_appliances_cannot_run_is_refused(
    make_client: MakeClient, sessions: sessionmaker[Session]
) -> None:
    admin = make_client(project=None, topologies=frozenset({Topology.SINGLE}))
    tenant = make_client(topologies=frozenset({Topology.SINGLE}))
    profile = admin.post(
        "/v2/lbaas/flavorprofiles",
        json={
            "flavorprofile": {
                "name": "pair",
                "provider_name": "appliance",
                "flavor_data": json.dumps({"loadbalancer_topology": "ACTIVE_STANDBY"}),
            }
        },
    ).json()["flavorprofile"]
    flavor = admin.post(
        "/v2/lbaas/flavors",
        json={"flavor": {"name": "pair", "flavor_profile_id": profile["id"]}},
    ).json()["flavor"]

    refused = tenant.post(
        "/v2/lbaas/loadbalancers", json={"loadbalancer": {"flavor_id": flavor["id"]}}
    )

    assert refused.status_code == 400
    assert "ACTIVE_STANDBY is not available" in refused.json()["faultstring"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(models.LoadBalancer)) == 0
    single = tenant.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {}})
    assert single.status_code == 201, single.text

"""The projects Steelyard knows, for the Keystone look-ups of the openstack CLI: those that
own load balancers, have quotas of their own, or hold API keys. There is no project registry;
any well-formed project ID may still be named (api/steelyard/keystone.py)."""

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from steelyard.db import models as m


def known_projects(session: Session) -> list[str]:
    owners = union(
        select(m.LoadBalancer.project_id),
        select(m.Quota.project_id),
        select(m.ApiKey.project_id),
    ).subquery()
    return list(session.scalars(select(owners.c.project_id).order_by(owners.c.project_id)))

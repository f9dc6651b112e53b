"""The project look-ups of the openstack CLI (GET /projects/{id}, GET /projects?name=)."""

from sqlalchemy.orm import Session, sessionmaker

from steelyard.db.apikeys import create_api_key
from tests.unit.api.conftest import OTHER, PROJECT, Factory, MakeClient


def test_a_member_finds_only_its_own_project(make_client: MakeClient) -> None:
    member = make_client()

    shown = member.get(f"/projects/{PROJECT}")
    assert shown.status_code == 200
    assert shown.json()["project"] | {"id": PROJECT, "name": PROJECT} == shown.json()["project"]
    assert member.get(f"/projects/{OTHER}").status_code == 404
    assert member.get(f"/projects?name={PROJECT}").json()["projects"][0]["id"] == PROJECT
    assert member.get(f"/projects?name={OTHER}").json()["projects"] == []
    assert [p["id"] for p in member.get("/projects").json()["projects"]] == [PROJECT]


def test_an_admin_finds_any_valid_project(make_client: MakeClient) -> None:
    admin = make_client(project=None)

    assert admin.get(f"/projects/{OTHER}").json()["project"]["id"] == OTHER
    assert admin.get(f"/projects?name={OTHER}").json()["projects"][0]["name"] == OTHER
    assert admin.get("/projects").json()["projects"] == []  # it knows none yet
    assert admin.get("/projects?name=").json()["projects"] == []
    for hostile in ("a%0Ab", "a b", "x" * 300, "%22%3E"):
        assert admin.get(f"/projects/{hostile}").status_code == 404
        assert admin.get(f"/projects?name={hostile}").json()["projects"] == []


def test_an_admin_lists_the_projects_steelyard_knows(
    make_client: MakeClient, make_lb: Factory, sessions: sessionmaker[Session]
) -> None:
    """Owners of load balancers, projects with quotas of their own, holders of API keys."""
    admin = make_client(project=None)
    make_lb()  # PROJECT's
    make_lb(via=make_client(project="p-lb"))
    admin.put("/v2/lbaas/quotas/p-quota", json={"quota": {"member": 5}})
    with sessions.begin() as session:
        create_api_key(session, "p-key", "member")
        create_api_key(session, "p-lb", "reader")

    listed = admin.get("/projects").json()["projects"]

    assert [p["id"] for p in listed] == sorted([PROJECT, "p-key", "p-lb", "p-quota"])
    assert all(p["name"] == p["id"] and p["enabled"] for p in listed)
    member = make_client()
    assert [p["id"] for p in member.get("/projects").json()["projects"]] == [PROJECT]
    assert member.get("/projects?name=p-key").json()["projects"] == []

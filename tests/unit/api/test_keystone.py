"""The project look-ups of the openstack CLI (GET /projects/{id}, GET /projects?name=)."""

from tests.unit.api.conftest import OTHER, PROJECT, MakeClient


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
    assert admin.get("/projects").json()["projects"] == []  # no registry to list
    for hostile in ("a%0Ab", "a b", "x" * 300, "%22%3E"):
        assert admin.get(f"/projects/{hostile}").status_code == 404
        assert admin.get(f"/projects?name={hostile}").json()["projects"] == []

from fastapi.testclient import TestClient


def test_root_lists_v2_as_current(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    (version,) = response.json()["versions"]
    assert version["id"] == "v2.0"
    assert version["status"] == "CURRENT"
    assert version["links"] == [{"href": "http://testserver/v2", "rel": "self"}]

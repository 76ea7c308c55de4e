import httpx

from tests.conftest import User


async def test_create_then_read_project(client: httpx.AsyncClient, alice: User) -> None:
    created = await client.post("/api/v1/projects", json={"name": "Apollo"}, headers=alice.headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "Apollo"
    assert body["status"] == "active"
    fetched = await client.get(f"/api/v1/projects/{body['id']}", headers=alice.headers)
    assert fetched.json() == body


async def test_rows_do_not_leak_between_tests(client: httpx.AsyncClient, alice: User) -> None:
    listed = await client.get("/api/v1/projects", headers=alice.headers)
    assert listed.json()["total"] == 0

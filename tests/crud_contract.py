"""The CRUD contract every generated feature test module runs against its resource.

A generated module (tests/features/test_<resource>.py) names its resource, a valid
body, the foreign keys to fill in, and the statuses its design doc lists per
operation; this class turns those into one test per documented status.
"""

import uuid
from typing import Any, ClassVar

import httpx

from tests.conftest import MakeUser

API = "/api/v1"


def minimal_body(openapi: dict[str, Any], schema_name: str) -> dict[str, Any]:
    """The smallest body the app's OpenAPI document says `schema_name` accepts."""
    schema = openapi["components"]["schemas"][schema_name]
    body: dict[str, Any] = {}
    for name in schema.get("required", []):
        spec = schema["properties"][name]
        if "$ref" in spec:
            enum = openapi["components"]["schemas"][spec["$ref"].rsplit("/", 1)[-1]]
            body[name] = enum["enum"][0]
        elif spec.get("type") == "string":
            body[name] = "x" * max(int(spec.get("minLength", 1)), 1)
        elif spec.get("type") == "integer":
            body[name] = int(spec.get("minimum", 0))
        elif spec.get("type") == "boolean":
            body[name] = True
    return body


class CrudContract:
    resource: ClassVar[str]
    valid: ClassVar[dict[str, Any]]
    references: ClassVar[dict[str, str]] = {}
    """Foreign-key field -> the resource it points at."""
    statuses: ClassVar[dict[str, tuple[int, ...]]]
    """Operation (create, get, list, update, delete) -> documented statuses."""

    async def _headers(self, make_user: MakeUser) -> dict[str, str]:
        return (await make_user()).headers

    async def _body(self, client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
        body = dict(self.valid)
        openapi = (await client.get("/openapi.json")).json()
        for field, target in self.references.items():
            schema = f"{target[:-1].title().replace('_', '')}Create"
            created = await client.post(
                f"{API}/{target}", json=minimal_body(openapi, schema), headers=headers
            )
            assert created.status_code == 201, created.text
            body[field] = created.json()["id"]
        return body

    async def _create(self, client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
        created = await client.post(
            f"{API}/{self.resource}", json=await self._body(client, headers), headers=headers
        )
        assert created.status_code == 201, created.text
        return dict(created.json())

    def _documents(self, operation: str, status: int) -> bool:
        return status in self.statuses.get(operation, ())


class CreateContract(CrudContract):
    async def test_create(self, client: httpx.AsyncClient, make_user: MakeUser) -> None:
        headers = await self._headers(make_user)
        body = await self._body(client, headers)
        url = f"{API}/{self.resource}"
        created = await client.post(url, json=body, headers=headers)
        assert created.status_code == 201, created.text
        assert {key: created.json()[key] for key in body} == body
        if self._documents("create", 400):
            bad = await client.post(url, json={**body, "id": str(uuid.uuid4())}, headers=headers)
            assert bad.status_code == 400
            assert bad.headers["content-type"] == "application/problem+json"
        if self._documents("create", 401):
            assert (await client.post(url, json=body)).status_code == 401
        for field in self.references:
            if self._documents("create", 404):
                missing = {**body, field: str(uuid.uuid4())}
                assert (await client.post(url, json=missing, headers=headers)).status_code == 404


class GetContract(CrudContract):
    async def test_get(self, client: httpx.AsyncClient, make_user: MakeUser) -> None:
        headers = await self._headers(make_user)
        row = await self._create(client, headers)
        url = f"{API}/{self.resource}"
        fetched = await client.get(f"{url}/{row['id']}", headers=headers)
        assert (fetched.status_code, fetched.json()) == (200, row)
        if self._documents("get", 404):
            assert (await client.get(f"{url}/{uuid.uuid4()}", headers=headers)).status_code == 404
        other = await client.get(f"{url}/{row['id']}", headers=await self._headers(make_user))
        # An authenticated route hides other owners' rows; a public one shows every row.
        assert other.status_code == (404 if self._documents("get", 401) else 200)
        if self._documents("get", 400):
            assert (await client.get(f"{url}/not-a-uuid", headers=headers)).status_code == 400
        if self._documents("get", 401):
            assert (await client.get(f"{url}/{row['id']}")).status_code == 401


class ListContract(CrudContract):
    async def test_list(self, client: httpx.AsyncClient, make_user: MakeUser) -> None:
        headers = await self._headers(make_user)
        rows = [await self._create(client, headers) for _ in range(3)]
        url = f"{API}/{self.resource}"
        page = (await client.get(f"{url}?page=2&limit=2", headers=headers)).json()
        assert (page["total"], page["page"], page["limit"], page["pages"]) == (3, 2, 2, 2)
        assert [item["id"] for item in page["items"]] == [rows[2]["id"]]
        if self._documents("list", 400):
            assert (await client.get(f"{url}?limit=101", headers=headers)).status_code == 400
            assert (await client.get(f"{url}?page=0", headers=headers)).status_code == 400
        if self._documents("list", 401):
            assert (await client.get(url)).status_code == 401


class UpdateContract(CrudContract):
    async def test_update(self, client: httpx.AsyncClient, make_user: MakeUser) -> None:
        headers = await self._headers(make_user)
        row = await self._create(client, headers)
        url = f"{API}/{self.resource}"
        unchanged = await client.put(f"{url}/{row['id']}", json={}, headers=headers)
        assert (unchanged.status_code, unchanged.json()) == (200, row)
        if self._documents("update", 400):
            bad = await client.put(f"{url}/{row['id']}", json={"owner_id": "x"}, headers=headers)
            assert bad.status_code == 400
        if self._documents("update", 404):
            missing = await client.put(f"{url}/{uuid.uuid4()}", json={}, headers=headers)
            assert missing.status_code == 404
        if self._documents("update", 401):
            assert (await client.put(f"{url}/{row['id']}", json={})).status_code == 401


class DeleteContract(CrudContract):
    async def test_delete(self, client: httpx.AsyncClient, make_user: MakeUser) -> None:
        headers = await self._headers(make_user)
        row = await self._create(client, headers)
        url = f"{API}/{self.resource}/{row['id']}"
        if self._documents("delete", 401):
            assert (await client.delete(url)).status_code == 401
        deleted = await client.delete(url, headers=headers)
        assert (deleted.status_code, deleted.content) == (204, b"")
        if self._documents("delete", 404):
            assert (await client.delete(url, headers=headers)).status_code == 404
        if self._documents("delete", 400):
            bad = await client.delete(f"{API}/{self.resource}/nope", headers=headers)
            assert bad.status_code == 400

"""The CRUD contract every generated feature test module runs against its resource.

A generated module (tests/features/test_<resource>.py) names its resource, a valid
body, the foreign keys to fill in, and the statuses its design doc lists per
operation; this class turns those into one test per documented status.
"""

import asyncio
import base64
import contextvars
import itertools
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import Index, UniqueConstraint

from src.core.config import Settings
from src.core.database import Database
from src.engine.patterns import pattern_sample
from src.main import create_app
from src.models import Base
from tests.conftest import MakeUser, User
from tests.helpers import assert_problem
from tests.live import LiveApp, OpenApp, open_live_apps

API = "/api/v1"
Schema = dict[str, Any]
NO_NUL = "^[^\\u0000]*$"
"""The pattern of free text (`NoNul`); any other pattern is a format such as a decimal's."""
UPDATE_METHODS = {"update": "PUT", "patch": "PATCH"}
"""The two routes of the partial update, by operation name."""


def resolve(openapi: Schema, spec: Schema) -> Schema:
    """`spec` with its `$ref`s followed, and an optional field's non-null branch."""
    while True:
        if "$ref" in spec:
            spec = openapi["components"]["schemas"][spec["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in spec:
            spec = next(option for option in spec["anyOf"] if option.get("type") != "null")
        else:
            return spec


def free_text(spec: Schema) -> bool:
    """Whether a (resolved) schema is free text: a string of any characters but NUL."""
    plain = spec.get("type") == "string" and spec.get("pattern", NO_NUL) == NO_NUL
    return plain and not {"format", "enum", "const"} & set(spec)


def create_route(openapi: Schema, resource: str) -> tuple[str, str | None]:
    """Where a row of `resource` is made: `POST /api/v1/<resource>`, else a POST under a
    parent (`/api/v1/projects/{project_id}/sections`), with the field its path gives."""
    flat = f"{API}/{resource}"
    if "post" in openapi["paths"].get(flat, {}):
        return flat, None
    for path, operations in openapi["paths"].items():
        nested = re.fullmatch(rf"{API}/\w+/\{{(\w+)\}}/{resource}", path)
        if nested and "post" in operations:
            return path, nested[1]
    raise AssertionError(f"no POST makes a row of {resource}")


def item_route(openapi: Schema, resource: str) -> str:
    """The path of `GET` of one row of `resource`: `/api/v1/<resource>/{id}`, else one keyed
    by a unique field (`/labels/{name}`) or under a parent (then a row is read where
    `create_row` made it, `LOCATIONS`)."""
    flat = f"{API}/{resource}/{{id}}"
    if "get" in openapi["paths"].get(flat, {}):
        return flat
    for path, operations in openapi["paths"].items():
        one = rf"{API}/(\w+/\{{\w+\}}/)?{resource}/\{{[\w:]+\}}"
        if re.fullmatch(one, path) and "get" in operations:
            return str(path)
    raise AssertionError(f"no GET reads a row of {resource}")


LOCATIONS: dict[str, str] = {}
"""The `Location` of each row `create_row` made: where it is read (under a parent, by a key)."""


def create_schema(openapi: Schema, resource: str) -> Schema:
    """The body the POST of `resource` takes, by the `$ref` of its request body: the
    document names it, so no name is guessed from the resource's plural."""
    operation = openapi["paths"][create_route(openapi, resource)[0]]["post"]
    return resolve(openapi, operation["requestBody"]["content"]["application/json"]["schema"])


def sample(openapi: Schema, spec: Schema) -> Any:
    """A valid value for `spec`: its first enum value, or the value nearest 0 (or "x")
    within its bounds, its length and its pattern."""
    spec = resolve(openapi, spec)
    if "enum" in spec:
        return spec["enum"][0]
    kind, form = spec.get("type"), spec.get("format")
    if form == "uuid":
        return str(uuid.uuid4())
    if form == "date":
        return "2026-01-01"
    if form == "date-time":
        return "2026-01-01T00:00:00Z"
    if kind == "boolean":
        return True
    items = resolve(openapi, spec.get("items", {}))
    if kind == "array" and items.get("format") == "uuid":  # `create_row` makes the rows
        return []
    if kind == "array":  # a `list[T]`: as many items as it takes
        return [sample(openapi, items)] * int(spec.get("minItems", 0))
    if kind == "object":  # an `object(Name)` with every field, so it is answered as sent
        properties = spec.get("properties", {})
        return {name: sample(openapi, value) for name, value in properties.items()}
    if kind in ("integer", "number"):
        low, high = spec.get("minimum"), spec.get("maximum")
        value = max(low, 0) if low is not None else 0
        return min(value, high) if high is not None else value
    assert kind == "string", f"no sample for {spec}"
    low, high = int(spec.get("minLength", 1)), spec.get("maxLength")
    pattern = spec.get("pattern", NO_NUL)
    if pattern != NO_NUL and "format" not in spec:  # a doc's `matching REGEX`
        matched = pattern_sample(pattern, low, high)
        if matched is not None:
            return matched
    for candidate in ("x" * max(low, 1), "0", "1"):
        fits = low <= len(candidate) <= (high if high is not None else len(candidate))
        if fits and re.search(pattern, candidate):
            return candidate
    raise AssertionError(f"no sample fits {spec}")


_FRESH: dict[tuple[str, str], Iterator[int]] = {}
FRESH_LETTERS = "abcdefghijklmnopqrstuvw"
"""No `y` or `z`: `_changed_body` ends a text with one, so it never makes a fresh value."""


def fresh(openapi: Schema, spec: Schema, key: tuple[str, str]) -> Any:
    """A valid value for `spec` unlike every earlier one for `key` (a resource and a field),
    as far as its type has room (a unique field takes at least 3 values): a unique field's
    value that no other row has."""
    number = next(_FRESH.setdefault(key, itertools.count(1)))
    spec = resolve(openapi, spec)
    if "enum" in spec:
        return spec["enum"][number % len(spec["enum"])]
    form = spec.get("format")
    if form == "uuid":
        return str(uuid.uuid4())
    if form == "date":
        return (date(2026, 1, 1) + timedelta(days=number)).isoformat()
    if form == "date-time":
        moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=number)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if spec.get("type") == "integer":
        low, high = spec.get("minimum", -(2**63)), spec.get("maximum", 2**63 - 1)
        start = min(max(low, 0), high)
        for value in (start + number, start - number):
            if low <= value <= high:
                return value
        return low + number % (high - low + 1)  # a short range: round it again
    pattern = spec.get("pattern", NO_NUL)
    if spec.get("type") == "string" and pattern != NO_NUL and "format" not in spec:
        low, high = spec.get("minLength"), spec.get("maxLength")
        matched = pattern_sample(pattern, low, high, variant=number)  # `matching REGEX`
        if matched is not None:
            return matched
    if not free_text(spec):
        return sample(openapi, spec)
    text, rest = "", number
    while True:
        rest, digit = divmod(rest, len(FRESH_LETTERS))
        text = FRESH_LETTERS[digit] + text
        if not rest:
            break
    high = spec.get("maxLength")
    text = text[-high:] if high is not None else text
    return text.rjust(int(spec.get("minLength", 1)), "-")


def unique_fields(resource: str) -> set[str]:
    """The fields of `resource` (its table) a unique index or constraint ends with."""
    table = Base.metadata.tables.get(resource)
    if table is None:
        return set()
    keys: list[Index | UniqueConstraint] = [index for index in table.indexes if index.unique]
    keys += [key for key in table.constraints if isinstance(key, UniqueConstraint)]
    return {list(key.columns)[-1].name for key in keys}


def minimal_body(openapi: Schema, schema: Schema) -> dict[str, Any]:
    """The smallest body `schema` accepts: its required fields, each with a sample."""
    properties = schema["properties"]
    return {name: sample(openapi, properties[name]) for name in schema.get("required", [])}


def references_of(resource: str) -> dict[str, str]:
    """Each foreign-key field of `resource` (its table) and the resource it points at."""
    table = Base.metadata.tables[resource]
    return {
        column.name: key.column.table.name
        for column in table.columns
        if column.name != "owner_id"
        for key in column.foreign_keys
    }


def links_of(resource: str) -> dict[str, str]:
    """Each `refs` field of `resource` (its table) and the resource its ids name."""
    for mapper in Base.registry.mappers:
        if getattr(mapper.class_, "__tablename__", None) == resource:
            return {
                relationship.key: relationship.mapper.class_.__tablename__
                for relationship in mapper.relationships
                if relationship.secondary is not None
            }
    return {}


async def create_rows(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    resource: str,
    count: int,
    chain: tuple[str, ...] = (),
) -> list[str]:
    """The ids of `count` new rows of `resource`, in the order made."""
    return [(await create_row(client, headers, resource, chain))["id"] for _ in range(count)]


def reads_are_public(openapi: Schema, resource: str) -> bool:
    """Whether anyone may read a row of `resource`: the GET of one row takes no token (or
    takes one only if sent: `Auth | Optional`)."""
    try:
        operation = openapi["paths"][item_route(openapi, resource)]["get"]
    except AssertionError:  # no GET of one row
        return False
    security = operation.get("security")
    return not security or {} in security


async def create_row(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    resource: str,
    chain: tuple[str, ...] = (),
    given: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A row of `resource` made through its own POST, after the rows its required
    references need (a time entry needs a task, which needs a project); `given`: references
    it takes as they are (a comment's `card_id`)."""
    assert resource not in chain, f"required references go round: {' -> '.join(chain)}"
    if resource == "users":  # a person to refer to: the caller, a member of what they make
        me = await client.get(f"{API}/users/me", headers=headers)
        assert me.status_code == 200, me.text
        return dict(me.json())
    openapi = (await client.get("/openapi.json")).json()
    schema = create_schema(openapi, resource)
    body = minimal_body(openapi, schema)
    references = references_of(resource)
    for field in unique_fields(resource) & set(body) - set(references):
        body[field] = fresh(openapi, schema["properties"][field], (resource, field))
    path, parent_field = create_route(openapi, resource)
    for field, target in references.items():
        if field in (given or {}):
            body[field] = (given or {})[field]
        elif field in body or field == parent_field:
            row = await create_row(client, headers, target, (*chain, resource))
            body[field] = row["id"]
    if parent_field is not None:  # the path names the parent row, the body does not
        path = path.replace(f"{{{parent_field}}}", body.pop(parent_field))
    properties = schema["properties"]
    for field, target in links_of(resource).items():
        if field in body:
            count = properties[field].get("minItems", 0)
            body[field] = await create_rows(client, headers, target, count, (*chain, resource))
    created = await client.post(path, json=body, headers=headers)
    assert created.status_code == 201, created.text
    LOCATIONS[created.json()["id"]] = created.headers["location"]
    return dict(created.json())


async def creation_order(client: httpx.AsyncClient, path: str) -> str:
    """`&sort=created_at` for a list (its OpenAPI path) that takes a sort, whose default may
    be another order; else nothing (creation order is the order)."""
    openapi = (await client.get("/openapi.json")).json()
    parameters = openapi["paths"][path]["get"]["parameters"]
    return "&sort=created_at" if any(p["name"] == "sort" for p in parameters) else ""


class CrudContract:
    resource: ClassVar[str]
    valid: ClassVar[dict[str, Any]]
    references: ClassVar[dict[str, str]] = {}
    """Foreign-key field -> the resource it points at."""
    statuses: ClassVar[dict[str, tuple[int, ...]]]
    """Operation (create, get, list, update, patch, delete) -> documented statuses."""
    fixed: ClassVar[tuple[str, ...]] = ()
    """Fields set at create only: an update that sends one is a 400 naming it."""
    unique: ClassVar[dict[str, list[str]]] = {}
    """Unique field -> the fields whose rows it is unique among (`owner_id`: one owner's
    rows; a ref field: the rows of one parent; none: every row)."""
    links: ClassVar[dict[str, str]] = {}
    """`refs` field -> the resource its ids name."""
    keys: ClassVar[dict[str, str]] = {}
    """Item route (get, update, patch, delete) -> the unique field its path names the row
    by, for a route keyed by one (`/labels/{name}`); absent: `{id}`."""
    optional: ClassVar[tuple[str, ...]] = ()
    """Reads (get, list) with `Auth | Optional`: open to anyone, a bad token a 401."""

    @pytest.fixture
    async def live(self, settings: Settings, password_hash: str) -> AsyncIterator[OpenApp]:
        """Apps whose requests each have a connection of their own, as in production."""
        async for opened in open_live_apps(settings, password_hash):
            yield opened

    async def _check_optional_auth(self, client: httpx.AsyncClient, url: str) -> None:
        """Without a token: served; with one that is not valid (or not Bearer): a 401."""
        assert (await client.get(url)).status_code == 200
        for sent in ("Bearer not-a-token", "Basic dXNlcjpwYXNz"):
            refused = await client.get(url, headers={"Authorization": sent})
            assert_problem(refused, 401)

    def _key(self, value: Any, base: str | None = None) -> str:
        """The URL of an item route for the row whose key (id, or unique field) is `value`."""
        return f"{base or f'{API}/{self.resource}'}/{quote(str(value), safe='')}"

    def _item(self, operation: str, row: dict[str, Any], base: str | None = None) -> str:
        """The URL `operation` names `row` by: its id, or its unique field's value."""
        return self._key(row[self.keys.get(operation, "id")], base)

    async def _missing(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        operation: str,
        base: str | None = None,
    ) -> str:
        """The URL of `operation` for a key no row has: a new id, or a fresh value."""
        key = self.keys.get(operation)
        value = uuid.uuid4() if key is None else await self._fresh(client, headers, key)
        return self._key(value, base)

    def _bad_key(self, operation: str, base: str | None = None) -> str:
        """The URL of `operation` with a key its path parameter refuses (a NUL: no text,
        number, date or id has one)."""
        bad = "%00" if operation in self.keys else "not-a-uuid"
        return f"{base or f'{API}/{self.resource}'}/{bad}"

    async def _headers(self, make_user: MakeUser) -> dict[str, str]:
        return (await make_user()).headers

    async def _body(
        self, client: httpx.AsyncClient, headers: dict[str, str], *, own_rows: bool = True
    ) -> dict[str, Any]:
        """`valid` with every reference filled; with `own_rows=False`, but references to this
        resource (a parent category): their rows would show in its list."""
        body = dict(self.valid)
        for field, target in self.references.items():
            if own_rows or target != self.resource:
                body[field] = (await create_row(client, headers, target))["id"]
        for field, target in self.links.items():
            if own_rows or target != self.resource:
                low, high = await self._count_bounds(client, field)
                body[field] = await create_rows(client, headers, target, min(max(low, 2), high))
        for field in set(self.unique) & set(body) - set(self.references):
            body[field] = await self._fresh(client, headers, field)
        return body

    async def _fresh(self, client: httpx.AsyncClient, headers: dict[str, str], field: str) -> Any:
        """A value of `field` no row has: a new row to refer to, for a reference."""
        if field in self.references:
            return (await create_row(client, headers, self.references[field]))["id"]
        openapi = (await client.get("/openapi.json")).json()
        creates = [f"{API}/{self.resource}"]  # or, created only under a parent, that POST
        creates += [path for path in openapi["paths"] if path.endswith(f"}}/{self.resource}")]
        post = next(
            openapi["paths"][p]["post"] for p in creates if "post" in openapi["paths"].get(p, {})
        )
        body = post["requestBody"]["content"]["application/json"]["schema"]
        spec = resolve(openapi, body)["properties"].get(field)
        if spec is None:  # a key the server makes (a slug, a number): one it has not made
            answer = post["responses"]["201"]["content"]["application/json"]["schema"]
            made = resolve(openapi, answer)["properties"][field]
            if made.get("type") == "integer":
                return (
                    2**31 - 1 - next(_FRESH.setdefault((self.resource, field), itertools.count(1)))
                )
            return f"no-row-{uuid.uuid4().hex}"
        return fresh(openapi, spec, (self.resource, field))

    async def _unique_body(
        self, client: httpx.AsyncClient, headers: dict[str, str], field: str
    ) -> dict[str, Any]:
        """A valid body that gives the unique `field` a value (an optional one too)."""
        body = await self._body(client, headers)
        if field not in body:
            body[field] = await self._fresh(client, headers, field)
        return body

    async def _beside(
        self, client: httpx.AsyncClient, headers: dict[str, str], field: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Another valid body in the same scope of the unique `field` as `body` (its parent
        row), with fresh values of every unique field."""
        scope = self.unique[field]
        beside = await self._unique_body(client, headers, field)
        return beside | {parent: body[parent] for parent in scope if parent in body}

    async def _total(self, client: httpx.AsyncClient, headers: dict[str, str]) -> int | None:
        """The rows the list shows the caller; None when the doc lists no list."""
        if "list" not in self.statuses:
            return None
        listed = await client.get(f"{API}/{self.resource}?limit=1", headers=headers)
        assert listed.status_code == 200, listed.text
        return int(listed.json()["total"])

    @staticmethod
    def _assert_taken(answer: httpx.Response, field: str) -> None:
        """A 409 naming the unique field whose value another row has."""
        assert_problem(answer, 409)
        assert answer.json()["title"] == "Conflict"
        assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [(field, "unique")]
        assert f"with this {field}" in answer.json()["detail"]

    async def _count_bounds(self, client: httpx.AsyncClient, field: str) -> tuple[int, int]:
        """(fewest, most) ids a `refs` field takes, read off the app's OpenAPI document."""
        openapi = (await client.get("/openapi.json")).json()
        spec = create_schema(openapi, self.resource)["properties"][field]
        return spec.get("minItems", 0), spec["maxItems"]

    async def _create(
        self, client: httpx.AsyncClient, headers: dict[str, str], *, own_rows: bool = True
    ) -> dict[str, Any]:
        body = await self._body(client, headers, own_rows=own_rows)
        created = await client.post(f"{API}/{self.resource}", json=body, headers=headers)
        assert created.status_code == 201, created.text
        return dict(created.json())

    async def _create_route(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        openapi: Schema,
        given: dict[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """A create's URL and a valid body (with the values `given`): the flat POST, or,
        where rows are created only under a parent (`/cards/{card_id}/comments`), that POST
        under a new parent (or the one given)."""
        body = {**await self._body(client, headers), **(given or {})}
        if "create" in self.statuses:
            return f"{API}/{self.resource}", body
        nested = next(
            path
            for path, operations in openapi["paths"].items()
            if path.endswith(f"}}/{self.resource}") and "post" in operations
        )
        field = re.findall(r"\{(\w+)\}", nested)[-1]
        return nested.replace(f"{{{field}}}", body.pop(field)), body

    async def _current(
        self, client: httpx.AsyncClient, row: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        """`row` as stored now: by its GET, or by an update that changes nothing (it
        answers the row as it is) where the doc lists no GET."""
        if "get" in self.statuses:
            fetched = await client.get(self._item("get", row), headers=headers)
        else:
            update = next(op for op in UPDATE_METHODS if op in self.statuses)
            url = self._item(update, row)
            fetched = await client.request(UPDATE_METHODS[update], url, json={}, headers=headers)
        assert fetched.status_code == 200, fetched.text
        return dict(fetched.json())

    @property
    def _located_by(self) -> str:
        """The item route a create's `Location` names: the GET, else another item route."""
        items = ("get", "update", "patch", "delete")
        if "get" in self.statuses:
            return "get"
        return next((op for op in items if op in self.keys), "get")

    @property
    def _kept_on_update(self) -> set[str]:
        """Fields an update leaves alone: those set at create only, and the keys of the routes
        (the row would move from its URL)."""
        return {*self.fixed, *self.keys.values()}

    def _documents(self, operation: str, status: int) -> bool:
        return status in self.statuses.get(operation, ())

    async def _changed_body(
        self, client: httpx.AsyncClient, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The same body with one free-text field altered, else with a choice field (an enum,
        not a key nor set at create) set to another choice; None if it has neither."""
        openapi = (await client.get("/openapi.json")).json()
        schema = create_schema(openapi, self.resource)
        for name, value in body.items():
            spec = resolve(openapi, schema["properties"].get(name, {}))
            if free_text(spec) and isinstance(value, str):
                return {**body, name: value[:-1] + ("y" if value[-1:] != "y" else "z")}
        for name, spec in schema["properties"].items():
            resolved = resolve(openapi, spec)
            choices = resolved.get("enum", [])
            if name not in self._kept_on_update and len(choices) > 1:
                value = body.get(name, resolved.get("default", choices[0]))
                return {**body, name: choices[-1] if value != choices[-1] else choices[0]}
        return None

    @pytest.fixture
    async def strict_client(
        self, settings: Settings, database: Database
    ) -> AsyncIterator[httpx.AsyncClient]:
        """A client of the app with REQUIRE_IF_MATCH on (same database and token secret)."""
        strict = create_app(settings.model_copy(update={"require_if_match": True}), database)
        transport = httpx.ASGITransport(app=strict)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


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
        openapi = (await client.get("/openapi.json")).json()
        stranger = await self._headers(make_user)
        for field, target in self.references.items():
            if self._documents("create", 404):
                missing = {**body, field: str(uuid.uuid4())}
                assert (await client.post(url, json=missing, headers=headers)).status_code == 404
            # Another user's row: only rows anyone may read can be referred to by anyone.
            foreign = {**body, field: (await create_row(client, stranger, target))["id"]}
            referred = await client.post(url, json=foreign, headers=headers)
            assert referred.status_code == (201 if reads_are_public(openapi, target) else 404)

    async def test_create_refuses_a_taken_value(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        """A unique field's value another row of its scope has: 409 naming the field, nothing
        written. Another owner (unless it is unique among every row) or another parent row
        may have it."""
        url = f"{API}/{self.resource}"
        for field, scope in self.unique.items():
            headers = await self._headers(make_user)
            body = await self._unique_body(client, headers, field)
            first = await client.post(url, json=body, headers=headers)
            assert first.status_code == 201, first.text
            total = await self._total(client, headers)
            again = {**await self._beside(client, headers, field, body), field: body[field]}
            self._assert_taken(await client.post(url, json=again, headers=headers), field)
            assert await self._total(client, headers) == total
            if field not in self.references:  # another owner cannot refer to this one's rows
                other = await self._headers(make_user)
                theirs = {**await self._body(client, other), field: body[field]}
                answer = await client.post(url, json=theirs, headers=other)
                if scope:
                    assert answer.status_code == 201, answer.text
                else:  # unique among every row: public reads address them all
                    self._assert_taken(answer, field)
            if any(parent in self.references for parent in scope):  # under another parent
                moved = {**await self._unique_body(client, headers, field), field: body[field]}
                answer = await client.post(url, json=moved, headers=headers)
                assert answer.status_code == 201, answer.text

    async def test_create_tags_and_locates_the_row(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        url = f"{API}/{self.resource}"
        created = await client.post(url, json=await self._body(client, headers), headers=headers)
        assert created.status_code == 201, created.text
        assert created.json()["version"] == 1
        assert created.headers["etag"] == '"1"'
        assert created.headers["location"] == self._item(self._located_by, created.json())

    async def test_create_with_idempotency_key_replays(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        body = await self._body(client, headers, own_rows=False)
        url = f"{API}/{self.resource}"
        keyed = {**headers, "Idempotency-Key": f"contract-{uuid.uuid4()}"}
        first = await client.post(url, json=body, headers=keyed)
        again = await client.post(url, json=body, headers=keyed)
        assert first.status_code == again.status_code == 201, again.text
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["etag"] == first.headers["etag"]
        assert again.headers["location"] == first.headers["location"]
        if "list" in self.statuses:  # one row made, not two
            listed = (await client.get(f"{url}?limit=100", headers=headers)).json()["items"]
            assert [row["id"] for row in listed] == [first.json()["id"]]
        changed = await self._changed_body(client, body)
        if changed is not None:
            reused = await client.post(url, json=changed, headers=keyed)
            assert_problem(reused, 422)
            assert "different request body" in reused.json()["detail"]
        too_long = {**headers, "Idempotency-Key": "k" * 256}
        refused = await client.post(url, json=body, headers=too_long)
        assert_problem(refused, 400)
        assert refused.json()["errors"][0]["field"] == "Idempotency-Key"


class GetContract(CrudContract):
    async def test_get(self, client: httpx.AsyncClient, make_user: MakeUser) -> None:
        headers = await self._headers(make_user)
        row = await self._create(client, headers)
        url = self._item("get", row)
        fetched = await client.get(url, headers=headers)
        assert (fetched.status_code, fetched.json()) == (200, row)
        if self._documents("get", 404):
            missing = await self._missing(client, headers, "get")
            assert (await client.get(missing, headers=headers)).status_code == 404
        other = await client.get(url, headers=await self._headers(make_user))
        # An authenticated route hides other owners' rows; a public one shows every row.
        public = "get" in self.optional or not self._documents("get", 401)
        assert other.status_code == (200 if public else 404)
        if self._documents("get", 400):
            bad = await client.get(self._bad_key("get"), headers=headers)
            assert bad.status_code == 400
            if "get" in self.keys:  # the key's own rules, named
                error = bad.json()["errors"][0]
                assert (error["field"], error["location"]) == (self.keys["get"], "path")
        if "get" in self.optional:
            await self._check_optional_auth(client, url)
        elif self._documents("get", 401):
            assert (await client.get(url)).status_code == 401

    async def test_get_by_a_key_another_owner_also_has(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        """A key unique among one owner's rows names the caller's row, a superuser's too:
        another owner's row with the same key is never reached by it."""
        key = self.keys.get("get")
        if key is None or self.unique.get(key) != ["owner_id"] or key in self.references:
            return
        theirs = await self._headers(make_user)
        row = await self._create(client, theirs)
        for user in (await make_user(), await make_user(superuser=True)):
            assert_problem(await client.get(self._item("get", row), headers=user.headers), 404)
            body = {**await self._body(client, user.headers), key: row[key]}
            mine = await client.post(f"{API}/{self.resource}", json=body, headers=user.headers)
            assert mine.status_code == 201, mine.text
            fetched = await client.get(self._item("get", row), headers=user.headers)
            assert fetched.json() == mine.json()
        assert (await client.get(self._item("get", row), headers=theirs)).json() == row

    async def test_get_carries_a_strong_etag(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        row = await self._create(client, headers)
        fetched = await client.get(self._item("get", row), headers=headers)
        assert fetched.headers["etag"] == f'"{row["version"]}"'


class ListContract(CrudContract):
    async def test_list(self, client: httpx.AsyncClient, make_user: MakeUser) -> None:
        headers = await self._headers(make_user)
        rows = [await self._create(client, headers, own_rows=False) for _ in range(3)]
        url = f"{API}/{self.resource}"
        order = await creation_order(client, url)
        page = (await client.get(f"{url}?page=2&limit=2{order}", headers=headers)).json()
        assert (page["total"], page["page"], page["limit"], page["pages"]) == (3, 2, 2, 2)
        assert [item["id"] for item in page["items"]] == [rows[2]["id"]]
        if self._documents("list", 400):
            assert (await client.get(f"{url}?limit=101", headers=headers)).status_code == 400
            assert (await client.get(f"{url}?page=0", headers=headers)).status_code == 400
        if "list" in self.optional:
            await self._check_optional_auth(client, url)
        elif self._documents("list", 401):
            assert (await client.get(url)).status_code == 401


class UpdateChecks(CrudContract):
    """The partial update's checks, for `PUT` (`UpdateContract`) and `PATCH`
    (`PatchContract`): one service call behind two methods, so one set of checks."""

    async def _check_update(
        self, operation: str, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        method = UPDATE_METHODS[operation]
        headers = await self._headers(make_user)
        row = await self._create(client, headers)
        url = self._item(operation, row)
        unchanged = await client.request(method, url, json={}, headers=headers)
        assert (unchanged.status_code, unchanged.json()) == (200, row)
        for name in self.fixed:  # set at create only: refused, named, nothing written
            again = {name: row[name]}
            refused = await client.request(method, url, json=again, headers=headers)
            assert_problem(refused, 400)
            error = refused.json()["errors"][0]
            assert (error["field"], error["rule"]) == (name, "set_at_create"), refused.text
            assert await self._current(client, row, headers) == row
        if self._documents(operation, 400):
            bad = await client.request(method, url, json={"owner_id": "x"}, headers=headers)
            assert bad.status_code == 400
            if operation in self.keys:
                bad_key = await client.request(
                    method, self._bad_key(operation), json={}, headers=headers
                )
                assert_problem(bad_key, 400)
                assert bad_key.json()["errors"][0]["field"] == self.keys[operation]
        if self._documents(operation, 404):
            missing = await self._missing(client, headers, operation)
            assert (
                await client.request(method, missing, json={}, headers=headers)
            ).status_code == 404
        if self._documents(operation, 401):
            assert (await client.request(method, url, json={})).status_code == 401
        key = self.keys.get(operation)
        if key is not None and key not in self.fixed:  # a rename: the answer has the new key
            renamed = await self._fresh(client, headers, key)
            answer = await client.request(method, url, json={key: renamed}, headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()[key] == renamed
            assert await self._current(client, answer.json(), headers) == answer.json()
            gone = await client.request(method, url, json={}, headers=headers)
            assert_problem(gone, 404)

    async def _check_update_refuses_a_taken_value(
        self, operation: str, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        """Changing a unique field to a value another row of its scope has: 409 naming the
        field, the row unchanged."""
        url = f"{API}/{self.resource}"
        for field in (name for name in self.unique if name not in self.fixed):
            headers = await self._headers(make_user)
            body = await self._unique_body(client, headers, field)
            first = await client.post(url, json=body, headers=headers)
            assert first.status_code == 201, first.text
            second_body = await self._beside(client, headers, field, body)
            second = await client.post(url, json=second_body, headers=headers)
            assert second.status_code == 201, second.text
            row = self._item(operation, second.json())
            taken = {field: body[field]}
            sent = await client.request(UPDATE_METHODS[operation], row, json=taken, headers=headers)
            self._assert_taken(sent, field)
            assert await self._current(client, second.json(), headers) == second.json()

    async def _check_update_with_if_match(
        self, operation: str, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        method = UPDATE_METHODS[operation]
        headers = await self._headers(make_user)
        body = await self._body(client, headers)
        body = {name: value for name, value in body.items() if name not in self._kept_on_update}
        row = await self._create(client, headers)
        url = self._item(operation, row)
        etag = f'"{row["version"]}"'  # the create's ETag: a doc may list no GET

        async def send(json: dict[str, Any], **extra: str) -> httpx.Response:
            return await client.request(method, url, json=json, headers={**headers, **extra})

        changed = await self._changed_body(client, body) or body
        current = await send(changed, **{"If-Match": etag})
        assert current.status_code == 200, current.text
        assert current.json()["version"] == row["version"] + 1
        assert current.headers["etag"] == f'"{row["version"] + 1}"'

        assert_problem(await send(body, **{"If-Match": etag}), 412)
        assert await self._current(client, row, headers) == current.json()
        assert_problem(await send(body, **{"If-Match": f"W/{etag}"}), 412)
        one_of = await send(body, **{"If-Match": f'"999", {current.headers["etag"]}'})
        assert one_of.status_code == 200, one_of.text
        anything = await send({}, **{"If-Match": "*"})
        assert anything.status_code == 200, anything.text
        # Tags that are not a current version, even beyond the column's range: 412, not 500.
        for foreign in ('"2147483648"', '"99999999999999999999"', '"01"', '"abc"', ""):
            assert_problem(await send({}, **{"If-Match": foreign}), 412)
        malformed = await send({}, **{"If-Match": "3"})
        assert_problem(malformed, 400)
        assert malformed.json()["errors"][0]["field"] == "If-Match"
        # 401 and 404 come before 412.
        missing = await self._missing(client, headers, operation)
        conditional = {**headers, "If-Match": etag}
        assert_problem(await client.request(method, missing, json={}, headers=conditional), 404)
        assert_problem(await client.request(method, url, json={}, headers={"If-Match": etag}), 401)
        other = {**(await self._headers(make_user)), "If-Match": etag}
        assert_problem(await client.request(method, url, json={}, headers=other), 404)

    async def _check_update_without_if_match_when_required(
        self, operation: str, strict_client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        method = UPDATE_METHODS[operation]
        headers = await self._headers(make_user)
        row = await self._create(strict_client, headers)
        url = self._item(operation, row)
        assert_problem(await strict_client.request(method, url, json={}, headers=headers), 428)
        blind = {**headers, "If-Match": "*"}
        assert_problem(await strict_client.request(method, url, json={}, headers=blind), 428)
        etag = {**headers, "If-Match": f'"{row["version"]}"'}
        assert (await strict_client.request(method, url, json={}, headers=etag)).status_code == 200


class UpdateContract(UpdateChecks):
    async def test_update(self, client: httpx.AsyncClient, make_user: MakeUser) -> None:
        await self._check_update("update", client, make_user)

    async def test_update_with_if_match(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        await self._check_update_with_if_match("update", client, make_user)

    async def test_update_without_if_match_when_required(
        self, strict_client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        await self._check_update_without_if_match_when_required("update", strict_client, make_user)

    async def test_update_refuses_a_taken_value(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        await self._check_update_refuses_a_taken_value("update", client, make_user)


class PatchContract(UpdateChecks):
    async def test_patch(self, client: httpx.AsyncClient, make_user: MakeUser) -> None:
        await self._check_update("patch", client, make_user)

    async def test_patch_with_if_match(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        await self._check_update_with_if_match("patch", client, make_user)

    async def test_patch_without_if_match_when_required(
        self, strict_client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        await self._check_update_without_if_match_when_required("patch", strict_client, make_user)

    async def test_patch_refuses_a_taken_value(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        await self._check_update_refuses_a_taken_value("patch", client, make_user)


class DeleteContract(CrudContract):
    async def test_delete(self, client: httpx.AsyncClient, make_user: MakeUser) -> None:
        headers = await self._headers(make_user)
        row = await self._create(client, headers)
        url = self._item("delete", row)
        if self._documents("delete", 401):
            assert (await client.delete(url)).status_code == 401
        if self._documents("delete", 404):  # another owner's row: as missing, and it stays
            others = await self._headers(make_user)
            assert_problem(await client.delete(url, headers=others), 404)
        deleted = await client.delete(url, headers=headers)
        assert (deleted.status_code, deleted.content) == (204, b"")
        if self._documents("delete", 404):
            assert (await client.delete(url, headers=headers)).status_code == 404
        if self._documents("delete", 400):
            bad = await client.delete(self._bad_key("delete"), headers=headers)
            assert bad.status_code == 400

    async def test_delete_with_if_match(
        self, client: httpx.AsyncClient, strict_client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        row = await self._create(client, headers)
        url = self._item("delete", row)
        stale = {**headers, "If-Match": f'"{row["version"] + 1}"'}
        assert_problem(await client.delete(url, headers=stale), 412)
        if "get" in self.statuses:  # else the 204 below shows the row was still there
            assert (await client.get(self._item("get", row), headers=headers)).status_code == 200
        assert_problem(await strict_client.delete(url, headers=headers), 428)
        current = {**headers, "If-Match": f'"{row["version"]}"'}
        assert (await client.delete(url, headers=current)).status_code == 204
        assert_problem(await client.delete(url, headers=current), 404)


class LinksContract(CrudContract):
    """The `refs` fields: ids answered in the order sent, each id checked (404 naming the
    model, nothing written), a duplicate refused, a PUT replacing the whole set, and the
    list filter named after the field."""

    link_filters: ClassVar[Sequence[str]] = ()
    """The `refs` fields the list filters by (rows that have the id)."""

    def _usable_fields(self) -> dict[str, str]:
        """The `refs` fields whose rows `_body` fills (not those naming this resource)."""
        return {field: target for field, target in self.links.items() if target != self.resource}

    async def _rows(self, client: httpx.AsyncClient, headers: dict[str, str]) -> int | None:
        """How many rows the caller's list holds (None without a list route)."""
        if "list" not in self.statuses:
            return None
        listed = await client.get(f"{API}/{self.resource}?limit=1", headers=headers)
        return int(listed.json()["total"])

    async def test_links_are_answered_in_the_order_sent(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        url = f"{API}/{self.resource}"
        body = await self._body(client, headers, own_rows=False)
        backwards = {**body, **{field: body[field][::-1] for field in self._usable_fields()}}
        for sent in (body, backwards):  # one of the two orders is not the ids' sorted one
            created = await client.post(url, json=sent, headers=headers)
            assert created.status_code == 201, created.text
            answered = {field: created.json()[field] for field in self._usable_fields()}
            assert answered == {field: sent[field] for field in self._usable_fields()}
            row = created.json()
            if "get" in self.statuses:
                fetched = await client.get(f"{url}/{row['id']}", headers=headers)
                assert fetched.json() == row
            if "list" in self.statuses:
                listed = (await client.get(f"{url}?limit=100", headers=headers)).json()
                assert row in listed["items"]

    async def test_an_id_the_caller_may_not_use_is_404_and_writes_nothing(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers, stranger = await self._headers(make_user), await self._headers(make_user)
        url = f"{API}/{self.resource}"
        body = await self._body(client, headers, own_rows=False)
        openapi = (await client.get("/openapi.json")).json()
        for field, target in self._usable_fields().items():
            foreign = await create_rows(client, stranger, target, 1)
            if reads_are_public(openapi, target):  # anyone may refer to its rows
                ids = [*body[field][: max(len(body[field]) - 1, 0)], *foreign]
                accepted = await client.post(url, json={**body, field: ids}, headers=headers)
                assert (accepted.status_code, accepted.json()[field]) == (201, ids)
                foreign = []
            for wrong in ([str(uuid.uuid4())], foreign):
                if not wrong:
                    continue
                before = await self._rows(client, headers)
                ids = [*body[field][: max(len(body[field]) - 1, 0)], *wrong]
                refused = await client.post(url, json={**body, field: ids}, headers=headers)
                assert_problem(refused, 404)
                assert refused.json()["detail"].endswith(" not found")
                assert await self._rows(client, headers) == before
                if field in self.fixed:
                    continue
                for method in self._update_methods():
                    row = await self._create(client, headers, own_rows=False)
                    item = f"{url}/{row['id']}"
                    moved = await client.request(method, item, json={field: ids}, headers=headers)
                    assert_problem(moved, 404)
                    if "get" in self.statuses:
                        assert (await client.get(item, headers=headers)).json() == row

    async def test_a_duplicate_id_is_400_naming_the_field(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        body = await self._body(client, headers, own_rows=False)
        for field in self._usable_fields():
            if len(body[field]) < 2:
                continue
            twice = [body[field][0], body[field][0]]
            refused = await client.post(
                f"{API}/{self.resource}", json={**body, field: twice}, headers=headers
            )
            assert_problem(refused, 400)
            assert refused.json()["errors"][0]["field"] == field

    async def test_an_update_replaces_the_whole_set(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        for method in self._update_methods():  # PUT and PATCH alike
            body = await self._body(client, headers, own_rows=False)
            created = await client.post(f"{API}/{self.resource}", json=body, headers=headers)
            assert created.status_code == 201, created.text
            url = f"{API}/{self.resource}/{created.json()['id']}"
            for field, target in self._usable_fields().items():
                if field in self.fixed:
                    continue
                low = (await self._count_bounds(client, field))[0]
                others = await create_rows(client, headers, target, max(low, 1))
                replaced = await client.request(method, url, json={field: others}, headers=headers)
                assert replaced.status_code == 200, replaced.text
                assert replaced.json()[field] == others
                assert replaced.json()["version"] == created.json()["version"] + 1
                kept = await client.request(method, url, json={}, headers=headers)
                assert kept.json()[field] == others
                if "get" in self.statuses:
                    assert (await client.get(url, headers=headers)).json()[field] == others
                created = replaced

    def _update_methods(self) -> list[str]:
        """PUT and PATCH, as far as the doc lists them."""
        return [method for name, method in UPDATE_METHODS.items() if name in self.statuses]

    async def test_the_list_filter_finds_the_rows_that_have_the_id(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        url = f"{API}/{self.resource}"
        for field in self.link_filters:
            if field not in self._usable_fields():
                continue
            body = await self._body(client, headers, own_rows=False)
            first, *rest = body[field]
            with_it = await client.post(url, json=body, headers=headers)
            assert with_it.status_code == 201, with_it.text
            without = await client.post(url, json={**body, field: rest}, headers=headers)
            assert without.status_code in (201, 400), without.text  # 400: below the bound
            found = await client.get(url, params={field: first}, headers=headers)
            assert found.status_code == 200, found.text
            assert [row["id"] for row in found.json()["items"]] == [with_it.json()["id"]]
            assert found.json()["total"] == 1
            nothing = await client.get(url, params={field: str(uuid.uuid4())}, headers=headers)
            assert nothing.json()["items"] == []


class ExpandContract(CrudContract):
    """`?expand=`: each named reference's row embedded beside its id, as the target's own GET
    answers it; none without `expand`; an unknown name a 400 naming `expand`."""

    expand: ClassVar[dict[str, tuple[str, ...]]]
    """Operation (get, list) -> the names its `expand` takes."""

    def _field_of(self, name: str) -> tuple[str, str]:
        """The field an expand name embeds (`project` -> `project_id`) and its resource."""
        if f"{name}_id" in self.references:
            return f"{name}_id", self.references[f"{name}_id"]
        if name in self.links:
            return name, self.links[name]  # a `refs` field
        return f"{name}_id", "users"  # who wrote the row (`current user`): set by the server

    async def _embedded(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        operation: str,
        row: dict[str, Any],
        name: str,
    ) -> Any:
        """What `expand=name` must answer for `row` on `operation`: the target's own GET of its
        id (or ids); null (or none) where the caller may not read the target. A public route
        reads as anyone: it embeds only rows of a target whose GETs are public."""
        field, target = self._field_of(name)
        if target == "users":  # a person, as `{id, name}`: here, the caller
            me = (await client.get(f"{API}/users/me", headers=headers)).json()
            assert row[field] in (None, me["id"]), "the test refers only to its caller"
            return None if row[field] is None else {"id": me["id"], "name": me["name"]}
        openapi = (await client.get("/openapi.json")).json()
        route = item_route(openapi, target)
        secured = openapi["paths"][route]["get"].get("security")
        readable = self._documents(operation, 401) or not secured or {} in secured

        async def fetched(id: str) -> Any:
            flat = route == f"{API}/{target}/{{id}}"
            answer = await client.get(
                f"{API}/{target}/{id}" if flat else LOCATIONS[id], headers=headers
            )
            assert answer.status_code == 200, answer.text
            return answer.json()

        if isinstance(row[field], list):
            return [await fetched(id) for id in row[field]] if readable else []
        return None if row[field] is None or not readable else await fetched(row[field])


class GetExpandContract(ExpandContract):
    async def test_get_expands_each_reference(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        names = self.expand["get"]
        headers = await self._headers(make_user)
        row = await self._create(client, headers)
        url = self._item("get", row)
        plain = await client.get(url, headers=headers)
        assert plain.json() == row  # no embedded key without expand
        for name in names:
            expanded = await client.get(url, params={"expand": name}, headers=headers)
            assert expanded.status_code == 200, expanded.text
            embedded = await self._embedded(client, headers, "get", row, name)
            assert expanded.json() == {**row, name: embedded}
            assert expanded.headers["etag"] == plain.headers["etag"]
        every = await client.get(url, params={"expand": ",".join(names)}, headers=headers)
        assert every.status_code == 200, every.text
        assert set(every.json()) == {*row, *names}
        unknown = await client.get(url, params={"expand": "no_such_field"}, headers=headers)
        assert_problem(unknown, 400)
        (error,) = unknown.json()["errors"]
        assert (error["field"], error["location"], error["rule"]) == (
            "expand",
            "query",
            "unknown_expand",
        )
        assert all(name in error["message"] for name in names)


class ListExpandContract(ExpandContract):
    async def test_list_expands_each_reference(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        names = self.expand["list"]
        headers = await self._headers(make_user)
        rows = [await self._create(client, headers, own_rows=False) for _ in range(2)]
        url = f"{API}/{self.resource}"
        plain = (await client.get(url, params={"limit": 100}, headers=headers)).json()
        assert plain["items"] == rows
        params: dict[str, str | int] = {"limit": 1, "expand": ",".join(names)}
        first = await client.get(url, params=params, headers=headers)
        assert first.status_code == 200, first.text
        following = await client.get(
            url, params={**params, "cursor": first.json()["next_cursor"]}, headers=headers
        )
        items = [*first.json()["items"], *following.json()["items"]]
        expected = [
            {
                **row,
                **{
                    name: await self._embedded(client, headers, "list", row, name) for name in names
                },
            }
            for row in rows
        ]
        assert items == expected
        unknown = await client.get(url, params={"expand": f"{names[0]},nope"}, headers=headers)
        assert_problem(unknown, 400)
        assert unknown.json()["errors"][0]["field"] == "expand"


class NestedContract(CrudContract):
    """Routes under one row of a parent: `/api/v1/<parent>/{<field>}/<resource>`."""

    parent: ClassVar[str]
    """The parent's resource (`projects`)."""
    field: ClassVar[str]
    """The reference field the path gives (`project_id`)."""
    parent_words: ClassVar[str]
    """How a 404 names the parent (`Project`)."""
    words: ClassVar[str]
    """How a 404 names a row of the resource (`Task`)."""

    def _under(self, parent_id: str) -> str:
        return f"{API}/{self.parent}/{parent_id}/{self.resource}"

    async def _parent(self, client: httpx.AsyncClient, headers: dict[str, str]) -> str:
        return str((await create_row(client, headers, self.parent))["id"])

    async def _nested_body(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> dict[str, Any]:
        """`valid` with every reference but the path's filled (none to this resource: their
        rows would show in its lists), and a value no row has in each unique field (a
        section's name, unique per project, in rows made under one parent)."""
        body = dict(self.valid)
        for field, target in self.references.items():
            if field != self.field and target != self.resource:
                body[field] = (await create_row(client, headers, target))["id"]
        for field in unique_fields(self.resource) & set(body) - set(self.references):
            body[field] = await self._fresh(client, headers, field)
        return body

    async def _create_under(
        self, client: httpx.AsyncClient, headers: dict[str, str], parent_id: str
    ) -> dict[str, Any]:
        """A row under the parent: by the nested POST if the doc lists it, else the flat one."""
        body = await self._nested_body(client, headers)
        if "create" in self.statuses:
            created = await client.post(self._under(parent_id), json=body, headers=headers)
        else:
            body[self.field] = parent_id
            created = await client.post(f"{API}/{self.resource}", json=body, headers=headers)
        assert created.status_code == 201, created.text
        return dict(created.json())

    def _assert_not_found(self, response: httpx.Response, words: str) -> None:
        assert_problem(response, 404)
        assert response.json()["detail"] == f"{words} not found"


class NestedCreateContract(NestedContract):
    async def test_create_under_a_parent(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        parent_id = await self._parent(client, headers)
        body = await self._nested_body(client, headers)
        url = self._under(parent_id)
        created = await client.post(url, json=body, headers=headers)
        assert created.status_code == 201, created.text
        row = created.json()
        assert {key: row[key] for key in body} == body
        assert row[self.field] == parent_id
        assert created.headers["location"] == self._item(self._located_by, row, url)
        # The path gives the parent: the body may not name one too. Nothing is written.
        doubled = await client.post(url, json={**body, self.field: parent_id}, headers=headers)
        assert_problem(doubled, 400)
        assert [e["field"] for e in doubled.json()["errors"]] == [self.field]
        others = await self._headers(make_user)
        for foreign in (str(uuid.uuid4()), await self._parent(client, others)):
            refused = await client.post(self._under(foreign), json=body, headers=headers)
            self._assert_not_found(refused, self.parent_words)
        if self._documents("create", 401):
            assert_problem(await client.post(url, json=body), 401)
        if "list" in self.statuses:
            listed = (await client.get(url, headers=headers)).json()
            assert [item["id"] for item in listed["items"]] == [row["id"]]

    async def test_create_under_a_parent_refuses_a_taken_value(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        """A unique field's value another row under the same parent has: 409 naming the
        field, nothing written. Under another parent it is taken only if the field is unique
        beyond one parent (per owner, or among every row)."""
        headers = await self._headers(make_user)
        for field, scope in self.unique.items():
            if field in self.references:
                continue
            url = self._under(await self._parent(client, headers))
            first = await client.post(
                url, json=await self._nested_body(client, headers), headers=headers
            )
            assert first.status_code == 201, first.text
            again = {**await self._nested_body(client, headers), field: first.json()[field]}
            self._assert_taken(await client.post(url, json=again, headers=headers), field)
            if "list" in self.statuses:
                listed = (await client.get(url, headers=headers)).json()
                assert [item["id"] for item in listed["items"]] == [first.json()["id"]]
            elsewhere = self._under(await self._parent(client, headers))
            answer = await client.post(elsewhere, json=again, headers=headers)
            if self.field in scope:
                assert answer.status_code == 201, answer.text
            else:
                self._assert_taken(answer, field)

    async def test_an_idempotency_key_is_kept_per_parent(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        body = await self._nested_body(client, headers)
        keyed = {**headers, "Idempotency-Key": f"nested-{uuid.uuid4()}"}
        first_url = self._under(await self._parent(client, headers))
        first = await client.post(first_url, json=body, headers=keyed)
        again = await client.post(first_url, json=body, headers=keyed)
        assert (first.status_code, again.status_code) == (201, 201), again.text
        assert again.content == first.content
        elsewhere = await client.post(
            self._under(await self._parent(client, headers)), json=body, headers=keyed
        )
        assert elsewhere.status_code == 201, elsewhere.text
        assert "idempotent-replayed" not in elsewhere.headers
        assert elsewhere.json()["id"] != first.json()["id"]


class NestedListContract(NestedContract):
    async def test_list_under_a_parent(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        parent_id, sibling_id = [await self._parent(client, headers) for _ in range(2)]
        rows = [await self._create_under(client, headers, parent_id) for _ in range(3)]
        await self._create_under(client, headers, sibling_id)
        url = self._under(parent_id)
        order = await creation_order(
            client, f"{API}/{self.parent}/{{{self.field}}}/{self.resource}"
        )
        page = (await client.get(f"{url}?page=2&limit=2{order}", headers=headers)).json()
        assert (page["total"], page["page"], page["limit"], page["pages"]) == (3, 2, 2, 2)
        assert [item["id"] for item in page["items"]] == [rows[2]["id"]]
        first = (await client.get(f"{url}?limit=2{order}", headers=headers)).json()
        assert [item["id"] for item in first["items"]] == [row["id"] for row in rows[:2]]
        cursor = first["next_cursor"]
        after = await client.get(f"{url}?limit=2{order}&cursor={cursor}", headers=headers)
        assert [item["id"] for item in after.json()["items"]] == [rows[2]["id"]]
        # A parent of the caller's with no rows is an empty page, not a 404.
        empty = await client.get(self._under(await self._parent(client, headers)), headers=headers)
        assert (empty.status_code, empty.json()["items"], empty.json()["total"]) == (200, [], 0)
        self._assert_not_found(
            await client.get(self._under(str(uuid.uuid4())), headers=headers), self.parent_words
        )
        others = await self._headers(make_user)
        seen = await client.get(url, headers=others)
        if self._documents("list", 401):  # another owner's parent: a 404, never an empty list
            self._assert_not_found(seen, self.parent_words)
            assert_problem(await client.get(url), 401)
        else:  # public reads: every owner's rows
            assert seen.json()["total"] == 3
        if self._documents("list", 400):
            assert_problem(await client.get(f"{url}?limit=101", headers=headers), 400)
            bad_parent = f"{API}/{self.parent}/not-a-uuid/{self.resource}"
            assert_problem(await client.get(bad_parent, headers=headers), 400)


class NestedGetContract(NestedContract):
    async def test_get_under_a_parent(self, client: httpx.AsyncClient, make_user: MakeUser) -> None:
        headers = await self._headers(make_user)
        parent_id, sibling_id = [await self._parent(client, headers) for _ in range(2)]
        row = await self._create_under(client, headers, parent_id)
        url = self._item("get", row, self._under(parent_id))
        fetched = await client.get(url, headers=headers)
        assert (fetched.status_code, fetched.json()) == (200, row)
        assert fetched.headers["etag"] == f'"{row["version"]}"'
        elsewhere = await client.get(
            self._item("get", row, self._under(sibling_id)), headers=headers
        )
        self._assert_not_found(elsewhere, self.words)
        nowhere = self._item("get", row, self._under(str(uuid.uuid4())))
        self._assert_not_found(await client.get(nowhere, headers=headers), self.parent_words)
        if "get" in self.keys:
            missing = await self._missing(client, headers, "get", self._under(parent_id))
            self._assert_not_found(await client.get(missing, headers=headers), self.words)
            bad = await client.get(self._bad_key("get", self._under(parent_id)), headers=headers)
            assert_problem(bad, 400)
            assert bad.json()["errors"][0]["field"] == self.keys["get"]
        other = await client.get(url, headers=await self._headers(make_user))
        if self._documents("get", 401):
            self._assert_not_found(other, self.parent_words)
            assert_problem(await client.get(url), 401)
        else:
            assert other.json() == row


class NestedUpdateChecks(NestedContract):
    async def _check_update_under(
        self, operation: str, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        """PUT (`update`) or PATCH (`patch`) of a row under its parent, and not under another."""
        method = "PUT" if operation == "update" else "PATCH"
        headers = await self._headers(make_user)
        parent_id, sibling_id = [await self._parent(client, headers) for _ in range(2)]
        row = await self._create_under(client, headers, parent_id)
        url = self._item(operation, row, self._under(parent_id))

        async def send(to: str, sent: dict[str, str] | None = None) -> httpx.Response:
            return await client.request(method, to, json={}, headers=sent)

        unchanged = await send(url, headers)
        assert (unchanged.status_code, unchanged.json()) == (200, row)
        elsewhere = await send(self._item(operation, row, self._under(sibling_id)), headers)
        self._assert_not_found(elsewhere, self.words)
        nowhere = self._item(operation, row, self._under(str(uuid.uuid4())))
        self._assert_not_found(await send(nowhere, headers), self.parent_words)
        stale = {**headers, "If-Match": f'"{row["version"] + 1}"'}
        assert_problem(await send(url, stale), 412)
        current = {**headers, "If-Match": f'"{row["version"]}"'}
        assert (await send(url, current)).json() == row
        if self._documents(operation, 401):
            assert_problem(await send(url), 401)


class NestedUpdateContract(NestedUpdateChecks):
    async def test_update_under_a_parent(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        await self._check_update_under("update", client, make_user)


class NestedPatchContract(NestedUpdateChecks):
    async def test_patch_under_a_parent(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        await self._check_update_under("patch", client, make_user)


class NestedDeleteContract(NestedContract):
    async def test_delete_under_a_parent(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        parent_id, sibling_id = [await self._parent(client, headers) for _ in range(2)]
        row = await self._create_under(client, headers, parent_id)
        url = self._item("delete", row, self._under(parent_id))
        elsewhere = await client.delete(
            self._item("delete", row, self._under(sibling_id)), headers=headers
        )
        self._assert_not_found(elsewhere, self.words)
        nowhere = self._item("delete", row, self._under(str(uuid.uuid4())))
        self._assert_not_found(await client.delete(nowhere, headers=headers), self.parent_words)
        if self._documents("delete", 401):
            assert_problem(await client.delete(url), 401)
        deleted = await client.delete(url, headers=headers)  # still there: nothing was deleted
        assert (deleted.status_code, deleted.content) == (204, b"")
        self._assert_not_found(await client.delete(url, headers=headers), self.words)


class TreeContract(CrudContract):
    """A reference to the model's own rows (a parent) makes a tree: no row may become its
    own parent or ancestor, and deleting a parent leaves its children without one."""

    async def test_update_refuses_a_cycle(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        url = f"{API}/{self.resource}"
        method = UPDATE_METHODS[next(op for op in UPDATE_METHODS if op in self.statuses)]

        async def update(row_url: str, json: dict[str, Any]) -> httpx.Response:
            return await client.request(method, row_url, json=json, headers=headers)

        parents = [name for name, target in self.references.items() if target == self.resource]
        for field in (name for name in parents if name not in self.fixed):  # a fixed one can't
            rows = [await self._create(client, headers, own_rows=False)]
            for _ in range(2):  # a child, then a grandchild
                body = {**await self._body(client, headers, own_rows=False), field: rows[-1]["id"]}
                created = await client.post(url, json=body, headers=headers)
                assert created.status_code == 201, created.text
                rows.append(created.json())
            root, middle = f"{url}/{rows[0]['id']}", f"{url}/{rows[1]['id']}"
            before = (await update(root, {})).json()  # with its child counted, if it counts
            for below in rows:  # itself, its child, its grandchild
                refused = await update(root, {field: below["id"]})
                assert_problem(refused, 400)
                assert refused.json()["errors"][0]["field"] == field
                assert "own ancestor" in refused.json()["detail"]
            unchanged = await update(root, {})
            assert unchanged.json() == before  # nothing written
            if "delete" in self.statuses:  # the parent goes: its child has none (SET NULL)
                assert (await client.delete(root, headers=headers)).status_code == 204
            else:
                assert (await update(middle, {field: None})).status_code == 200
            child = await update(middle, {})
            assert (child.status_code, child.json()[field]) == (200, None)
            grandchild = await update(f"{url}/{rows[2]['id']}", {})
            assert grandchild.json()[field] == rows[1]["id"]


class QueryContract(CrudContract):
    """A list people query: each `sort` key both ways (and paged by cursor), each
    `<field>__<op>` filter and the `q` search, each against the same rows computed here,
    and each bad value a 400 naming its parameter. Read off the list's OpenAPI parameters."""

    ROWS = 6
    url = ""
    """The list's URL, once `_list_url` made what it needs (a parent, for a nested list)."""

    def _list_template(self) -> str:
        """The list's path as the OpenAPI document names it."""
        return f"{API}/{self.resource}"

    async def _list_url(self, client: httpx.AsyncClient, headers: dict[str, str]) -> str:
        self.url = f"{API}/{self.resource}"
        return self.url

    async def _query_body(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> dict[str, Any]:
        return await self._body(client, headers, own_rows=False)

    async def _make(
        self, client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
    ) -> dict[str, Any]:
        created = await client.post(f"{API}/{self.resource}", json=body, headers=headers)
        assert created.status_code == 201, created.text
        return dict(created.json())

    async def _list_parameters(
        self, client: httpx.AsyncClient, taking: str | None = None
    ) -> dict[str, Schema]:
        """The list's query parameters by name; the test is skipped unless they include
        `taking` (a list may take operators without a sort, or a sort without `q`)."""
        openapi = (await client.get("/openapi.json")).json()
        operation = openapi["paths"][self._list_template()]["get"]
        found = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
        if taking is not None and taking not in found:
            pytest.skip(f"the list takes no {taking}")
        return found

    async def _rows(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> tuple[list[dict[str, Any]], dict[str, Schema]]:
        """`ROWS` rows whose queried fields take 3 values in turn, not in creation order
        (ties for the id to break), and null in the last row where a field may be null."""
        openapi = (await client.get("/openapi.json")).json()
        properties = create_schema(openapi, self.resource)["properties"]
        queried = {split(name)[0] for name in await self._list_parameters(client)}
        queried = (queried | set(search_fields_of(self.resource))) & set(properties)
        queried -= set(self.links)
        await self._list_url(client, headers)
        parents = {
            field: [(await create_row(client, headers, target))["id"] for _ in range(3)]
            for field, target in self.references.items()
            if field in queried and target != self.resource and field in properties
        }
        rows = []
        for number in range(self.ROWS):
            body = await self._query_body(client, headers)
            for field in queried:
                spec = properties[field]
                nullable = any(o.get("type") == "null" for o in spec.get("anyOf", []))
                turn = (2, 0, 1)[number % 3]
                if nullable and number == self.ROWS - 1:
                    body[field] = None
                elif field in parents:
                    body[field] = parents[field][turn]
                elif field not in self.references:
                    body[field] = query_value(openapi, spec, turn)
            rows.append(await self._make(client, headers, body))
        specs = {field: resolve(openapi, properties[field]) for field in queried}
        moments = {"format": "date-time"}
        return rows, specs | {"created_at": moments, "updated_at": moments}

    async def _ids(
        self, client: httpx.AsyncClient, headers: dict[str, str], query: str
    ) -> list[str]:
        answer = await client.get(f"{self.url}?limit=100&{query}", headers=headers)
        assert answer.status_code == 200, f"{query}: {answer.text}"
        return [item["id"] for item in answer.json()["items"]]

    async def test_sort_orders_by_each_key_both_ways_and_pages_by_cursor(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        params = await self._list_parameters(client, taking="sort")
        headers = await self._headers(make_user)
        rows, specs = await self._rows(client, headers)
        keys = sort_keys_of(params["sort"])
        orders = [f"{sign}{key}" for key in keys for sign in ("", "-")]
        if len(keys) > 1:
            orders.append(f"-{keys[0]},{keys[1]}")
        for order in orders:
            expected = [row["id"] for row in sorted_rows(rows, order, specs)]
            assert await self._ids(client, headers, f"sort={order}") == expected, order
            paged, cursor = [], ""
            while True:
                answer = await client.get(
                    f"{self.url}?limit=2&sort={order}{cursor}", headers=headers
                )
                assert answer.status_code == 200, answer.text
                paged += [item["id"] for item in answer.json()["items"]]
                if answer.json()["next_cursor"] is None:
                    break
                cursor = f"&cursor={answer.json()['next_cursor']}"
            assert paged == expected, f"{order} by cursor"
        default = params["sort"]["schema"].get("default")
        expected = [row["id"] for row in sorted_rows(rows, default, specs)]
        assert await self._ids(client, headers, "") == expected, "the default sort"

    async def test_sort_refuses_unknown_keys_and_another_sorts_cursor(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        params = await self._list_parameters(client, taking="sort")
        headers = await self._headers(make_user)
        await self._rows(client, headers)
        url = self.url
        keys = sort_keys_of(params["sort"])
        for bad in ("no_such_key", f"{keys[0]},{keys[0]}", "", f"+{keys[0]}"):
            answer = await client.get(f"{url}?sort={bad}", headers=headers)
            assert_problem(answer, 400)
            assert [e["field"] for e in answer.json()["errors"]] == ["sort"], bad
        first = (await client.get(f"{url}?limit=1&sort={keys[0]}", headers=headers)).json()
        other = f"-{keys[0]}"
        answer = await client.get(
            f"{url}?limit=1&sort={other}&cursor={first['next_cursor']}", headers=headers
        )
        assert_problem(answer, 400)
        assert [e["field"] for e in answer.json()["errors"]] == ["cursor"]
        for forged in ("e30", "WyJ4Il0", "bm90IGpzb24"):
            answer = await client.get(f"{url}?sort={keys[0]}&cursor={forged}", headers=headers)
            assert_problem(answer, 400)
            assert [e["field"] for e in answer.json()["errors"]] == ["cursor"], forged

    async def test_sort_refuses_a_forged_cursor_its_columns_cannot_hold(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        """A cursor is the client's text: one whose values no row of this list could have (a
        number past its column, an instant before the first UTC year, a NUL) is a 400 naming
        `cursor`, never a statement the database refuses."""
        params = await self._list_parameters(client, taking="sort")
        headers = await self._headers(make_user)
        url = await self._list_url(client, headers)
        openapi = (await client.get("/openapi.json")).json()
        properties = create_schema(openapi, self.resource)["properties"]
        for key in sort_keys_of(params["sort"]):
            spec = resolve(openapi, properties.get(key, {"format": "date-time"}))
            for value in forged_values(spec):
                cursor = forged_cursor(key, value)
                answer = await client.get(f"{url}?sort={key}&cursor={cursor}", headers=headers)
                assert_problem(answer, 400)
                assert [e["field"] for e in answer.json()["errors"]] == ["cursor"], (key, value)

    async def test_each_filter_operator_finds_the_rows_it_names(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        params = await self._list_parameters(client)
        operators = [name for name in params if split(name)[1] is not None]
        if not operators:
            pytest.skip("the list takes no filter operator")
        headers = await self._headers(make_user)
        rows, specs = await self._rows(client, headers)
        for name in operators:
            field, operator = split(name)
            assert operator is not None
            for value in operator_values(rows, field, operator):
                spec = specs[field]
                expected = [row["id"] for row in rows if matches(row[field], operator, value, spec)]
                text = str(value).lower() if isinstance(value, bool) else str(value)
                query = f"{name}={quote(text)}"
                found = await self._ids(client, headers, query)
                assert sorted(found) == sorted(expected), query

    async def test_each_filter_operator_refuses_a_bad_value_naming_it(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        params = await self._list_parameters(client)
        operators = [name for name in params if split(name)[1] is not None]
        if "q" in params:
            operators.append("q")
        if not operators:
            pytest.skip("the list takes no filter operator")
        headers = await self._headers(make_user)
        url = await self._list_url(client, headers)
        unknown = f"{split(operators[0])[0]}__between"  # an operator no list takes
        answer = await client.get(f"{url}?{unknown}=1", headers=headers)
        assert_problem(answer, 400)
        assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [
            (unknown, "unknown_parameter")
        ]
        for name in operators:
            for bad in bad_values(name, params[name]):
                answer = await client.get(f"{url}?{name}={quote(bad)}", headers=headers)
                assert_problem(answer, 400)
                assert name in [e["field"] for e in answer.json()["errors"]], (name, bad)

    async def test_search_finds_the_text_in_any_searched_field_ignoring_case(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        await self._list_parameters(client, taking="q")
        headers = await self._headers(make_user)
        rows, _ = await self._rows(client, headers)
        searched = search_fields_of(self.resource)
        texts = [row[f] for row in rows for f in searched if isinstance(row.get(f), str)]
        assert texts, "no row has a searched text"
        for term in (texts[0].upper(), texts[-1][-1:], "ç", "%", "_"):  # Ç too
            expected = [
                row["id"]
                for row in rows
                if any(term.lower() in (row.get(f) or "").lower() for f in searched)
            ]
            found = await self._ids(client, headers, f"q={quote(term)}")
            assert sorted(found) == sorted(expected), term


class NestedQueryContract(NestedContract, QueryContract):
    """`QueryContract` over the list under one parent row (made for the test)."""

    def _list_template(self) -> str:
        return f"{API}/{self.parent}/{{{self.field}}}/{self.resource}"

    async def _list_url(self, client: httpx.AsyncClient, headers: dict[str, str]) -> str:
        self.url = self._under(await self._parent(client, headers))
        return self.url

    async def _query_body(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> dict[str, Any]:
        return await self._nested_body(client, headers)

    async def _make(
        self, client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
    ) -> dict[str, Any]:
        if "create" in self.statuses:
            created = await client.post(self.url, json=body, headers=headers)
        else:
            parent_id = self.url.removeprefix(f"{API}/{self.parent}/").split("/")[0]
            body = {**body, self.field: parent_id}
            created = await client.post(f"{API}/{self.resource}", json=body, headers=headers)
        assert created.status_code == 201, created.text
        return dict(created.json())


def forged_cursor(sort: str, value: Any) -> str:
    """A cursor of `sort` as a client could write one: its JSON, in base64url."""
    text = json.dumps([sort, [value], uuid.uuid4().hex])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def forged_values(spec: Schema) -> list[Any]:
    """Sort key values no column of `spec`'s kind holds."""
    form, kind = spec.get("format"), spec.get("type")
    if form == "date-time":
        return ["0001-01-01T00:00:00+01:00", "2026-01-01T00:00:00", 5]
    if form == "date":
        return ["0000-01-01", 5]
    if "enum" in spec:
        return ["no-such-choice", 1]
    if kind == "integer":
        return [10**30, -(10**30), "3", 1.5]
    if kind == "number":
        return ["x", [1]]
    if kind == "boolean":
        return ["true", 1]
    if not free_text(spec):  # a decimal's text
        return ["1e30", "NaN", 1]
    return ["a\x00", "\ud800", "x" * (int(spec.get("maxLength", 200)) + 1)]


def split(name: str) -> tuple[str, str | None]:
    """`priority__gte` -> (`priority`, `gte`), as the app reads a filter's name."""
    from src.core.pagination import split_filter

    return split_filter(name)


def sort_keys_of(parameter: Schema) -> list[str]:
    from src.api.queries import sort_keys

    keys = sort_keys(parameter["schema"]["pattern"])
    assert keys, parameter
    return list(keys)


def search_fields_of(resource: str) -> tuple[str, ...]:
    for mapper in Base.registry.mappers:
        if getattr(mapper.class_, "__tablename__", None) == resource:
            return tuple(mapper.class_.search_fields)
    return ()


def query_value(openapi: Schema, spec: Schema, turn: int) -> Any:
    """The `turn`th (0, 1, 2) of three values of `spec` in ascending order (a list: items
    from the `turn`th on, as many as it needs)."""
    spec = resolve(openapi, spec)
    if spec.get("type") == "array":
        count = max(1, int(spec.get("minItems", 1)))
        return [query_value(openapi, spec["items"], (turn + k) % 3) for k in range(count)]
    if "enum" in spec:
        return sorted(spec["enum"])[turn % len(spec["enum"])]
    form, kind = spec.get("format"), spec.get("type")
    if form == "date":
        return (date(2026, 1, 1) + timedelta(days=turn)).isoformat()
    if form == "date-time":
        return f"2026-01-01T0{turn}:00:00Z"
    if form == "uuid":
        return f"00000000-0000-4000-8000-00000000000{turn}"
    if kind == "boolean":
        return turn % 2 == 1
    if kind in ("integer", "number"):
        low, high = spec.get("minimum", 0), spec.get("maximum", 2**31 - 1)
        return min(low + turn, high)
    if not free_text(spec):  # a decimal's text
        return next(str(v) for v in (turn, f"{turn}.5") if re.search(spec["pattern"], str(v)))
    low = int(spec.get("minLength", 1))
    return ("Ab", "bÇ", "cd")[turn].ljust(low, "x")[: spec.get("maxLength", 1000)]


def comparable(value: Any, spec: Schema) -> Any:
    """An answered value as the database orders it."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if spec.get("type") in ("integer", "number"):  # a value of a query, as text
        return int(value) if spec["type"] == "integer" else float(value)
    if spec.get("format") == "date":
        return date.fromisoformat(value)
    if spec.get("format") == "date-time":
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if spec.get("format") == "uuid":
        return uuid.UUID(value)
    if spec.get("type") == "string" and not free_text(spec) and "enum" not in spec:
        return Decimal(value)
    return value


def sorted_rows(
    rows: list[dict[str, Any]], order: str, specs: dict[str, Schema]
) -> list[dict[str, Any]]:
    """`rows` as `?sort=order` lists them: nulls after every value (first, descending), the id
    last, in the direction of the last key."""
    keys = order.split(",")
    result = sorted(rows, key=lambda row: uuid.UUID(row["id"]), reverse=keys[-1].startswith("-"))
    for key in reversed(keys):
        name, down = key.removeprefix("-"), key.startswith("-")
        present = [row for row in result if row[name] is not None]
        absent = [row for row in result if row[name] is None]
        present = sorted(present, key=lambda row: comparable(row[name], specs[name]), reverse=down)
        result = absent + present if down else present + absent
    return result


def operator_values(rows: list[dict[str, Any]], field: str, operator: str) -> list[Any]:
    """Values to try `field__operator` with, taken from the rows."""
    present = [row[field] for row in rows if row[field] is not None]
    if operator == "isnull":
        return [True, False]
    if operator == "in":
        return [",".join(map(str, dict.fromkeys(present[:2]))), str(present[-1])]
    if operator == "contains" and isinstance(present[0], list):  # an item of a list
        return [present[0][0], present[1][-1]]
    if operator == "contains":
        return [present[0][-1:].upper(), present[1]]
    return [present[0], present[1]]


def matches(value: Any, operator: str, given: Any, spec: Schema) -> bool:
    if operator == "isnull":
        return (value is None) is given
    if operator == "ne":
        return value is None or bool(comparable(value, spec) != comparable(given, spec))
    if value is None:
        return False
    if operator == "contains" and isinstance(value, list):
        items = spec.get("items", {})
        return comparable(given, items) in [comparable(item, items) for item in value]
    if operator == "contains":
        return str(given).lower() in value.lower()
    if operator == "in":
        return comparable(value, spec) in {comparable(v, spec) for v in str(given).split(",")}
    left, right = comparable(value, spec), comparable(given, spec)
    return bool(
        {
            "gte": left >= right,
            "gt": left > right,
            "lte": left <= right,
            "lt": left < right,
        }[operator]
    )


def bad_values(name: str, parameter: Schema) -> list[str]:
    """Values the parameter `name` refuses, by its operator and type."""
    operator = "search" if name == "q" else split(name)[1]
    spec = parameter["schema"]
    spec = next((o for o in spec.get("anyOf", [spec]) if o.get("type") != "null"), spec)
    if operator == "isnull":
        return ["maybe", ""]
    if operator in ("contains", "search"):
        return ["", "x" * (int(spec.get("maxLength", 200)) + 1), "a\x00b"]
    if operator == "in":
        return [",".join(["1"] * 101), "\x00"]
    if spec.get("format") == "date":  # digits are no day, nor is an instant
        return ["not-a-value", "0", "2026-01-01T00:00:00Z"]
    if spec.get("format") == "date-time":  # digits are no instant (not Unix time)
        return ["not-a-value", "0.5", "2026-01-01"]
    if spec.get("type") == "string" and "format" not in spec and "enum" not in spec:
        return ["\x00"]
    return ["not-a-value"]


class ActionContract(CrudContract):
    """Each action route of the resource (`POST /<rows>/{id}/close`), read off the OpenAPI
    document (`x-action`: its rules, what it sets, the fields its body gives). The rules are
    evaluated here, on the rows as answered, not by the server's code."""

    async def _actions(self, client: httpx.AsyncClient) -> dict[str, tuple[str, Schema]]:
        """Action name -> (its path, its operation)."""
        openapi = (await client.get("/openapi.json")).json()
        found = {}
        for path, operations in openapi["paths"].items():
            post = operations.get("post", {})
            action = post.get("x-action")
            if action is None or _joins_or_leaves(action) is not None:  # JoinContract's
                continue
            if path.startswith(f"{API}/{self.resource}/"):
                found[action["name"]] = (path, post)
        assert found, f"no action route of {self.resource}"
        return found

    @staticmethod
    def _url(path: str, row: dict[str, Any]) -> str:
        """The action's URL for `row`: its path with the row's key."""
        return re.sub(r"\{(\w+)\}", lambda key: quote(str(row[key[1]]), safe=""), path)

    @staticmethod
    def _holds(rule: str, row: dict[str, Any]) -> bool:
        field, operator, value = _rule_parts(rule)
        if operator == "is null":
            return row[field] is None
        if operator == "is not null":
            return row[field] is not None
        equal = row[field] is not None and _same(row[field], value)
        return equal if operator == "=" else not equal

    def _rules_hold(self, action: Schema, row: dict[str, Any]) -> bool:
        return all(self._holds(rule, row) for rule in action["when"])

    @staticmethod
    def _after(action: Schema, row: dict[str, Any]) -> dict[str, Any]:
        """The row as the action's `Sets` would leave it (`now()` as a time)."""
        after = dict(row)
        for assignment in action["sets"]:
            field, value = assignment.split(" = ", 1)
            made = {"now()": "2026-01-01T00:00:00Z", "current user": "the caller's id"}
            after[field] = made[value] if value in made else json.loads(value)
        return after

    async def _body_of(
        self, client: httpx.AsyncClient, headers: dict[str, str], operation: Schema
    ) -> dict[str, Any] | None:
        """A valid body for an action that takes fields (new rows for its references)."""
        if "requestBody" not in operation:
            return None
        openapi = (await client.get("/openapi.json")).json()
        schema = resolve(openapi, operation["requestBody"]["content"]["application/json"]["schema"])
        body = {}
        for field, spec in schema["properties"].items():
            if field in self.references:
                body[field] = (await create_row(client, headers, self.references[field]))["id"]
            else:
                body[field] = sample(openapi, spec)
        return body

    async def _run(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        route: tuple[str, Schema],
        row: dict[str, Any],
        **extra: Any,
    ) -> httpx.Response:
        path, operation = route
        body = await self._body_of(client, headers, operation)
        return await client.post(self._url(path, row), json=body, headers=headers, **extra)

    async def _reach(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        name: str,
        *,
        holding: bool = True,
    ) -> dict[str, Any]:
        """A new row on which action `name`'s rules hold (or, `holding=False`, fail), brought
        there by the other actions that take no body."""
        actions = await self._actions(client)
        target = actions[name][1]["x-action"]
        row = await self._create(client, headers)
        for _ in range(len(actions) + 1):
            if self._rules_hold(target, row) == holding:
                return row
            steps = [
                route
                for other, route in actions.items()
                if "requestBody" not in route[1]
                and self._rules_hold(route[1]["x-action"], row)
                and self._rules_hold(target, self._after(route[1]["x-action"], row)) == holding
            ]
            if not steps:
                break
            ran = await self._run(client, headers, steps[0], row)
            assert ran.status_code == 200, ran.text
            row = dict(ran.json())
        state = "hold" if holding else "fail"
        raise AssertionError(f"no action makes the rules of {name} {state} on a new row")

    async def test_each_action_sets_its_fields_and_bumps_the_version(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        caller = await make_user()
        headers = caller.headers
        for name, route in (await self._actions(client)).items():
            action = route[1]["x-action"]
            row = await self._reach(client, headers, name)
            before = datetime.now(UTC)
            body = await self._body_of(client, headers, route[1])
            url = self._url(route[0], row)
            answer = await client.post(url, json=body, headers=headers)
            assert answer.status_code == 200, f"{name}: {answer.text}"
            acted = answer.json()
            for assignment in action["sets"]:
                field, value = assignment.split(" = ", 1)
                if value == "now()":
                    moment = datetime.fromisoformat(acted[field])
                    assert before - timedelta(seconds=1) <= moment <= datetime.now(UTC)
                elif value == "current user":
                    assert acted[field] == str(caller.id), (name, field)
                else:
                    assert _same(acted[field], json.loads(value)), (name, field, acted[field])
            for field, value in (body or {}).items():
                assert _same(acted[field], value), (name, field, acted[field])
            changed = {a.split(" = ", 1)[0] for a in action["sets"]}
            changed |= {*action["takes"], "version", "updated_at"}
            for field in set(row) - changed:
                assert acted[field] == row[field], (name, field)
            assert answer.headers["etag"] == f'"{row["version"] + 1}"'
            assert acted["updated_at"] > row["updated_at"]
            assert await self._current(client, acted, headers) == acted

    async def test_an_action_whose_rule_fails_is_409_naming_it_and_writes_nothing(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        for name, route in (await self._actions(client)).items():
            action = route[1]["x-action"]
            if not action["when"]:
                continue
            row = await self._reach(client, headers, name, holding=False)
            refused = await self._run(client, headers, route, row)
            problem = assert_problem(refused, 409)
            (error,) = problem["errors"]
            assert error["rule"] in action["when"]
            assert not self._holds(error["rule"], row)
            assert error["field"] == error["rule"].split(" ", 1)[0]
            assert f"needs {error['rule']}" in problem["detail"]
            assert await self._current(client, row, headers) == row

    async def test_an_action_on_a_missing_or_foreign_row_is_404(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        owner, stranger = await self._headers(make_user), await self._headers(make_user)
        for name, route in (await self._actions(client)).items():
            row = await self._reach(client, owner, name)
            foreign = await self._run(client, stranger, route, row)
            assert_problem(foreign, 404)
            missing = await self._run(client, owner, route, {**row, "id": str(uuid.uuid4())})
            assert_problem(missing, 404)
            assert await self._current(client, row, owner) == row

    async def test_an_action_with_if_match_runs_on_its_version_only(
        self,
        client: httpx.AsyncClient,
        strict_client: httpx.AsyncClient,
        make_user: MakeUser,
    ) -> None:
        headers = await self._headers(make_user)
        for name, route in (await self._actions(client)).items():
            row = await self._reach(client, headers, name)
            stale = {"If-Match": f'"{row["version"] + 7}"'}
            refused = await self._run(client, headers | stale, route, row)
            assert_problem(refused, 412)
            assert await self._current(client, row, headers) == row
            required = await self._run(strict_client, headers, route, row)
            assert_problem(required, 428)
            current = {"If-Match": f'"{row["version"]}"'}
            ran = await self._run(strict_client, headers | current, route, row)
            assert ran.status_code == 200, f"{name}: {ran.text}"

    async def test_two_concurrent_runs_of_an_action_that_breaks_its_rule_give_one_409(
        self, live: OpenApp
    ) -> None:
        app = await live()
        client, headers = app.client, (await app.user()).headers
        raced = 0
        for name, route in (await self._actions(client)).items():
            action = route[1]["x-action"]
            row = await self._reach(client, headers, name)
            if not action["when"] or self._rules_hold(action, self._after(action, row)):
                continue  # a second run would pass too: nothing to race for
            both = await asyncio.gather(*(self._run(client, headers, route, row) for _ in "ab"))
            assert sorted(answer.status_code for answer in both) == [200, 409], name
            assert (await self._current(client, row, headers))["version"] == row["version"] + 1
            raced += 1
        if not raced:
            pytest.skip(f"no action of {self.resource} breaks its own rule")

    async def test_a_body_an_action_does_not_take_is_400(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        for name, (path, operation) in (await self._actions(client)).items():
            row = await self._reach(client, headers, name)
            url = self._url(path, row)
            if "requestBody" not in operation:
                sent = await client.post(url, json={"x": 1}, headers=headers)
                assert_problem(sent, 400)
                assert sent.json()["errors"][0]["field"] == "body"
            else:
                body = await self._body_of(client, headers, operation)
                assert body is not None
                for field in body:
                    without = {key: value for key, value in body.items() if key != field}
                    short = await client.post(url, json=without, headers=headers)
                    assert_problem(short, 400)
                    assert short.json()["errors"][0]["field"] == field
                unknown = await client.post(url, json={**body, "x_unknown": 1}, headers=headers)
                assert_problem(unknown, 400)
            assert await self._current(client, row, headers) == row


def _joins_or_leaves(action: Schema) -> tuple[str, bool] | None:
    """(the `refs(User)` field, whether the caller joins) of `x-action`'s `+= current user`
    or `-= current user`; None for another action."""
    for assignment in action["sets"]:
        found = re.fullmatch(r"(\w+) ([+-])= current user", assignment)
        if found is not None:
            return found[1], found[2] == "+"
    return None


class JoinContract(CrudContract):
    """Each pair of routes by which the caller joins and leaves a `refs(User)` field
    (`POST /<rows>/{id}/favorite`: `favorited_by += current user`; its `DELETE` undoes it):
    read access is enough, a second join or leave changes nothing, and the counts
    (`joined_counts`: count field -> the refs field) and viewer flags (`viewer_flags`: flag
    -> the refs field) follow the caller."""

    joined_counts: ClassVar[dict[str, str]] = {}
    viewer_flags: ClassVar[dict[str, str]] = {}

    async def _joins(self, client: httpx.AsyncClient) -> dict[str, dict[bool, str]]:
        """refs field -> {True: the join's path, False: the leave's}, with the method each
        route takes as `METHOD path`."""
        openapi = (await client.get("/openapi.json")).json()
        found: dict[str, dict[bool, str]] = {}
        for path, operations in openapi["paths"].items():
            for method, operation in operations.items():
                change = _joins_or_leaves(operation.get("x-action", {"sets": []}))
                if path.startswith(f"{API}/{self.resource}/") and change is not None:
                    found.setdefault(change[0], {})[change[1]] = f"{method.upper()} {path}"
        assert found, f"no join route of {self.resource}"
        return found

    async def _send(
        self,
        client: httpx.AsyncClient,
        route: str,
        row: dict[str, Any],
        headers: dict[str, str],
    ) -> httpx.Response:
        method, path = route.split(" ", 1)
        return await client.request(method, ActionContract._url(path, row), headers=headers)

    def _shows(self, row: dict[str, Any], field: str, user: Any, joined: bool) -> None:
        """`row` holds `user` in `field` (or not), with its counts and, for that viewer, flags."""
        assert (str(user.id) in row[field]) == joined, (field, row[field])
        for name, counted in self.joined_counts.items():
            if counted == field:
                assert row[name] == len(row[field]), (name, row)
        for name, viewed in self.viewer_flags.items():
            if viewed == field:
                assert row[name] is joined, (name, row)

    async def test_joining_and_leaving_change_the_row_once(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        owner = await make_user()
        openapi = (await client.get("/openapi.json")).json()
        public = reads_are_public(openapi, self.resource)
        for field, routes in (await self._joins(client)).items():
            if True not in routes:  # only a leave: nothing to leave on a new row
                continue
            row = await self._create(client, owner.headers)
            assert row[field] == []
            caller = await make_user() if public else owner  # read access is enough
            for joined in (True, False):
                if joined not in routes:
                    continue
                first = await self._send(client, routes[joined], row, caller.headers)
                assert first.status_code == 200, first.text
                changed = first.json()
                self._shows(changed, field, caller, joined)
                assert changed["version"] == row["version"] + 1
                assert first.headers["etag"] == f'"{changed["version"]}"'
                assert await self._current(client, changed, caller.headers) == changed
                again = await self._send(client, routes[joined], row, caller.headers)
                assert again.status_code == 200, again.text
                assert again.json() == changed  # a second join (leave) changes nothing
                row = changed
            if public and "get" in self.optional and True in routes:
                await self._send(client, routes[True], row, caller.headers)
                anonymous = (await client.get(self._item("get", row))).json()
                assert all(anonymous[flag] is False for flag in self.viewer_flags)

    async def test_a_join_needs_read_access_and_a_row(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        owner, stranger = await make_user(), await make_user()
        openapi = (await client.get("/openapi.json")).json()
        public = reads_are_public(openapi, self.resource)
        for routes in (await self._joins(client)).values():
            for route in routes.values():
                row = await self._create(client, owner.headers)
                key = re.findall(r"\{(\w+)\}", route)[-1]
                value = (
                    uuid.uuid4() if key == "id" else await self._fresh(client, owner.headers, key)
                )
                missing = {**row, key: str(value)}
                assert_problem(await self._send(client, route, missing, stranger.headers), 404)
                foreign = await self._send(client, route, row, stranger.headers)
                if public:
                    assert foreign.status_code == 200, foreign.text
                else:  # an owner's private row stays a 404 to others, and unchanged
                    assert_problem(foreign, 404)
                    assert await self._current(client, row, owner.headers) == row
                assert_problem(await self._send(client, route, row, {}), 401)

    async def test_a_join_with_a_stale_if_match_is_412_and_writes_nothing(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        owner = await make_user()
        for field, routes in (await self._joins(client)).items():
            if True not in routes:
                continue
            row = await self._create(client, owner.headers)
            stale = owner.headers | {"If-Match": f'"{row["version"] + 7}"'}
            assert_problem(await self._send(client, routes[True], row, stale), 412)
            assert (await self._current(client, row, owner.headers))[field] == []

    async def test_concurrent_joins_by_one_caller_join_once(self, live: OpenApp) -> None:
        app = await live()
        client, user = app.client, await app.user()
        for field, routes in (await self._joins(client)).items():
            if True not in routes:
                continue
            row = await self._create(client, user.headers)
            both = await asyncio.gather(
                *(self._send(client, routes[True], row, user.headers) for _ in "ab")
            )
            assert [answer.status_code for answer in both] == [200, 200]
            current = await self._current(client, row, user.headers)
            assert current[field] == [str(user.id)]
            assert current["version"] == row["version"] + 1


class MadeKeyContract(CrudContract):
    """Keys the server makes at create: slugs (`slugs`: `slug` -> the field it is made from),
    unique with `-2`, `-3` on a clash, also between concurrent creates, and kept by updates;
    numbers (`numbers`: `number` -> the field whose rows count 1, 2, 3, or `owner_id`),
    never handed out twice, also after a delete and between concurrent creates."""

    slugs: ClassVar[dict[str, str]] = {}
    numbers: ClassVar[dict[str, str]] = {}

    async def _made(
        self, client: httpx.AsyncClient, headers: dict[str, str], **given: Any
    ) -> dict[str, Any]:
        openapi = (await client.get("/openapi.json")).json()
        url, body = await self._create_route(client, headers, openapi, given)
        made = await client.post(url, json=body, headers=headers)
        assert made.status_code == 201, made.text
        LOCATIONS[made.json()["id"]] = made.headers["location"]
        return dict(made.json())

    async def test_a_slug_is_made_from_its_field_once_and_kept(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        for slug, field in self.slugs.items():
            text = f"Héllo, Wörld {uuid.uuid4().hex[:6]}!"
            first = await self._made(client, headers, **{field: text})
            expected = f"hello-world-{text[-7:-1]}"
            assert first[slug] == expected
            keyed = headers | {"Idempotency-Key": str(uuid.uuid4())}  # in a transaction
            second = await self._made(client, keyed, **{field: text})
            assert second[slug] == f"{expected}-2"
            for operation, method in UPDATE_METHODS.items():
                if operation in self.statuses:
                    url = self._item(operation, second)
                    changed = await client.request(
                        method, url, json={field: "Other"}, headers=headers
                    )
                    assert changed.status_code == 200, changed.text
                    assert changed.json()[slug] == f"{expected}-2"  # links stay valid

    @pytest.mark.usefixtures("live")
    async def test_concurrent_creates_get_distinct_slugs_and_numbers(self, live: OpenApp) -> None:
        app = await live()
        client, user = app.client, await app.user()
        parent = await self._made(client, user.headers)
        text = f"Same {uuid.uuid4().hex[:6]}"
        given = dict.fromkeys(self.slugs.values(), text)
        given |= {  # one parent for every row
            field: parent[field] for field in self.numbers.values() if field != "owner_id"
        }
        made = await asyncio.gather(*(self._made(client, user.headers, **given) for _ in range(4)))
        for slug in self.slugs:
            assert len({row[slug] for row in [parent, *made]}) == 5
        for number in self.numbers:
            assert sorted(row[number] for row in made) == [2, 3, 4, 5]

    async def test_a_number_counts_per_scope_and_is_never_given_twice(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        for number, field in self.numbers.items():
            first = await self._made(client, headers)
            assert first[number] == 1
            same = {} if field == "owner_id" else {field: first[field]}
            second = await self._made(client, headers, **same)
            assert second[number] == 2
            other = await self._made(client, await self._headers(make_user))
            assert other[number] == 1  # another scope counts from 1
            if field != "owner_id":  # another parent of the same owner, too
                assert (await self._made(client, headers))[number] == 1
            openapi = (await client.get("/openapi.json")).json()
            path = LOCATIONS.get(second["id"])
            if path is not None and item_route_of(openapi, self.resource, "delete") is not None:
                deleted = await client.delete(path, headers=headers)
                assert deleted.status_code == 204, deleted.text
                third = await self._made(client, headers, **same)
                assert third[number] == 3  # the deleted row's number is not handed out again


class DerivedContract(CrudContract):
    """The fields the system derives (set by actions only, or counts): answered, and refused
    by name in every input."""

    async def test_derived_fields_are_answered_and_never_taken(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = await self._headers(make_user)
        openapi = (await client.get("/openapi.json")).json()
        url, body = await self._create_route(client, headers, openapi)
        made = await client.post(url, json=body, headers=headers)
        assert made.status_code == 201, made.text
        created = made.json()
        inputs = set(create_schema(openapi, self.resource)["properties"])
        derived = set(created) - inputs - {"id", "version", "created_at", "updated_at"}
        derived -= set(self.references) | set(self.links)
        assert derived, f"{self.resource} answers no derived field"
        for field in sorted(derived):
            url, body = await self._create_route(client, headers, openapi)
            sent = await client.post(url, json={**body, field: created[field]}, headers=headers)
            problem = assert_problem(sent, 400)
            assert [e["field"] for e in problem["errors"]] == [field]
            for operation, method in UPDATE_METHODS.items():
                if operation in self.statuses:
                    url = self._item(operation, created)
                    changed = await client.request(
                        method, url, json={field: created[field]}, headers=headers
                    )
                    problem = assert_problem(changed, 400)
                    assert [e["field"] for e in problem["errors"]] == [field]


def _rule_parts(rule: str) -> tuple[str, str, Any]:
    """`state = "open"` -> ("state", "=", "open"); `closed_at is null` -> (.., "is null", None)."""
    field, rest = rule.split(" ", 1)
    if rest in ("is null", "is not null"):
        return field, rest, None
    operator, value = rest.split(" ", 1)
    return field, operator, json.loads(value)


def _same(answered: Any, expected: Any) -> bool:
    """A value as answered against a doc's literal: decimals as text, times as instants."""
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return answered is not None and Decimal(str(answered)) == Decimal(str(expected))
    return bool(answered == expected)


class CountContract(CrudContract):
    """Each count field (`counts`: `comment_count` -> `comments.card_id`, the rows of another
    resource whose reference names the row, or `labels`, a `refs` field's ids) is exact after
    every write that changes what it counts, on the row's GET and on its list's page."""

    counts: ClassVar[dict[str, str]] = {}

    async def _counted(
        self, client: httpx.AsyncClient, headers: dict[str, str], row: dict[str, Any]
    ) -> dict[str, Any]:
        """The row as its GET and as its list's page answer it (the two must agree)."""
        current = await self._current(client, row, headers)
        if "list" in self.statuses:
            listed = await client.get(f"{API}/{self.resource}?limit=100", headers=headers)
            assert listed.status_code == 200, listed.text
            (shown,) = [item for item in listed.json()["items"] if item["id"] == row["id"]]
            assert shown == current
        return current

    async def test_each_count_follows_the_rows_it_counts(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers, stranger = await self._headers(make_user), await self._headers(make_user)
        openapi = (await client.get("/openapi.json")).json()
        for name, counted in self.counts.items():
            row = await self._create(client, headers)
            if "." not in counted:  # the ids of a `refs` field of the row
                assert (await self._counted(client, headers, row))[name] == len(row[counted])
                for operation, method in UPDATE_METHODS.items():
                    if operation in self.statuses:
                        url = self._item(operation, row)
                        kept = row[counted][:1]
                        changed = await client.request(
                            method, url, json={counted: kept}, headers=headers
                        )
                        assert changed.status_code == 200, changed.text
                        assert changed.json()[name] == len(kept) == 1
                        row = changed.json()
                assert (await self._counted(client, headers, row))[name] == len(row[counted])
                continue
            resource, field = counted.split(".")
            assert (await self._counted(client, headers, row))[name] == 0
            made = [
                await create_row(client, headers, resource, given={field: row["id"]})
                for _ in range(3)
            ]
            await create_row(client, stranger, resource)  # one on another card: not counted
            assert (await self._counted(client, headers, row))[name] == 3
            path = LOCATIONS.get(made[0]["id"]) or f"{API}/{resource}/{made[0]['id']}"
            route = item_route_of(openapi, resource, "delete")
            if route is not None:
                deleted = await client.delete(path, headers=headers)
                assert deleted.status_code == 204, deleted.text
                assert (await self._counted(client, headers, row))[name] == 2


def item_route_of(openapi: Schema, resource: str, method: str) -> str | None:
    """The path of `method` on one row of `resource` (flat or under a parent), or None."""
    for path, operations in openapi["paths"].items():
        one = rf"{API}/(\w+/\{{\w+\}}/)?{resource}/\{{[\w:]+\}}"
        if re.fullmatch(one, path) and method in operations:
            return str(path)
    return None


def _model_of(resource: str) -> Any:
    """The mapped class whose table is `resource`."""
    return next(
        mapper.class_
        for mapper in Base.registry.mappers
        if getattr(mapper.class_, "__tablename__", None) == resource
    )


TEAM = ("admin", "editor", "viewer", "removed", "outsider", "superuser")
"""Who asks, in the role matrix: three members, a member removed after they read, a user
who never was one, and a superuser who is no member."""
READERS = {"admin", "editor", "viewer", "superuser"}


class TeamContract(CrudContract):
    """Who may do what with a row of a shared container, or of a model inside one: every
    route of the row (and the container's member routes), once per caller of `TEAM`. Each
    answer is exactly the expected status; a list answers the row only to those who may
    read it. Routes are found in the OpenAPI document, the container by following the
    model's `through` up to the shared model."""

    async def _container(
        self, client: httpx.AsyncClient, headers: dict[str, str], row: dict[str, Any]
    ) -> tuple[str, str]:
        """(the container's resource, its id) of `row`."""
        resource = self.resource
        while (model := _model_of(resource)).members is None:
            field = model.through
            resource = references_of(resource)[field]
            fetched = await client.get(LOCATIONS[row[field]], headers=headers)
            assert fetched.status_code == 200, fetched.text
            row = fetched.json()
        return resource, str(row["id"])

    async def _team(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> tuple[dict[str, Any], dict[str, User], str]:
        """A row made by an admin, the callers of `TEAM`, and the container's members URL.
        The removed member read the row before they were removed, with the token they keep."""
        admin = await make_user()
        row = await create_row(client, admin.headers, self.resource)
        resource, container = await self._container(client, admin.headers, row)
        members = f"{API}/{resource}/{container}/members"
        callers = {"admin": admin}
        for name, role in (("editor", "editor"), ("viewer", "viewer"), ("removed", "editor")):
            callers[name] = await make_user()
            body = {"email": callers[name].email, "role": role}
            added = await client.post(members, json=body, headers=admin.headers)
            assert added.status_code == 201, added.text
            assert added.json()["role"] == role
        removed = callers["removed"]
        before = await client.get(LOCATIONS[row["id"]], headers=removed.headers)
        assert before.status_code == 200, before.text
        gone = await client.delete(f"{members}/{removed.id}", headers=admin.headers)
        assert gone.status_code == 204, gone.text
        callers["outsider"] = await make_user()
        callers["superuser"] = await make_user(superuser=True)
        return row, callers, members

    async def _routes(self, client: httpx.AsyncClient) -> tuple[Schema, str, list[str]]:
        """The OpenAPI document, the item route, and the list routes (flat, or under a
        parent) of the resource."""
        openapi = (await client.get("/openapi.json")).json()
        item = item_route(openapi, self.resource)
        lists = [
            path
            for path, operations in openapi["paths"].items()
            if "get" in operations
            and re.fullmatch(rf"{API}/(\w+/\{{\w+\}}/)?{self.resource}", path)
        ]
        return openapi, item, lists

    async def test_each_role_gets_exactly_its_answers(
        self, client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        row, callers, members = await self._team(client, make_user)
        openapi, item, lists = await self._routes(client)
        container = _model_of(self.resource).members is not None
        url = LOCATIONS[row["id"]]
        methods = set(openapi["paths"][item])
        writer = {"admin", "superuser"} | (set() if container else {"editor"})
        seen: list[str] = []

        def expect(caller: str, what: str, response: httpx.Response, status: int) -> None:
            if response.status_code != status:
                seen.append(f"{caller} {what}: {response.status_code}, expected {status}")

        def status_of(caller: str, allowed: set[str], done: int) -> int:
            if caller in allowed:
                return done
            return 403 if caller in READERS else 404

        for caller in TEAM:
            headers = callers[caller].headers
            got = await client.get(url, headers=headers)
            expect(caller, "GET", got, 200 if caller in READERS else 404)
            if got.status_code == 200 and container:
                role = None if caller == "superuser" else caller
                if got.json()["role"] != role:
                    seen.append(f"{caller} GET: role {got.json()['role']}, expected {role}")
            for path in lists:
                listed = await client.get(self._list_url(path, row), headers=headers)
                nested = path != f"{API}/{self.resource}"
                visible = caller in READERS
                expect(caller, f"GET {path}", listed, 404 if nested and not visible else 200)
                if listed.status_code == 200:
                    ids = [item["id"] for item in listed.json()["items"]]
                    if (row["id"] in ids) != visible:
                        seen.append(f"{caller} GET {path}: the row listed is {not visible}")
            for method in ("put", "patch"):
                if method in methods:
                    changed = await self._team_change(client, row)
                    wrote = await client.request(method, url, json=changed, headers=headers)
                    expect(caller, method.upper(), wrote, status_of(caller, writer, 200))
            if not container:  # a superuser adds rows only where they are a member
                created = await self._create_in(client, openapi, row, headers)
                status = (
                    404 if caller == "superuser" else status_of(caller, {"admin", "editor"}, 201)
                )
                expect(caller, "POST", created, status)
        if "delete" in methods:  # those who may not, first: the row is still there after
            for caller in TEAM:
                if caller not in writer:
                    deleted = await client.delete(url, headers=callers[caller].headers)
                    expect(caller, "DELETE", deleted, status_of(caller, writer, 204))
            assert (await client.get(url, headers=callers["admin"].headers)).status_code == 200
        if container:
            await self._check_member_routes(client, callers, members, expect, status_of)
        if "delete" in methods:
            deleted = await client.delete(url, headers=callers["admin"].headers)
            expect("admin", "DELETE", deleted, 204)
        assert not seen, "\n".join(seen)

    def _list_url(self, path: str, row: dict[str, Any]) -> str:
        """A list route with its parent (the row's) filled in."""
        found = re.search(r"\{(\w+)\}", path)
        if found is None:
            return f"{path}?limit=100"
        return path.replace(found[0], str(row[found[1]])) + "?limit=100"

    async def _team_change(self, client: httpx.AsyncClient, row: dict[str, Any]) -> dict[str, Any]:
        """A real change of the row: one field altered (`{}` if it has none to alter)."""
        openapi = (await client.get("/openapi.json")).json()
        schema = create_schema(openapi, self.resource)
        body = {name: row[name] for name in schema["properties"] if name in row}
        changed = await self._changed_body(client, body) or body
        return {name: value for name, value in changed.items() if body.get(name) != value}

    async def _create_in(
        self,
        client: httpx.AsyncClient,
        openapi: Schema,
        row: dict[str, Any],
        headers: dict[str, str],
    ) -> httpx.Response:
        """A new row in the same container as `row` (under its parent, for a nested POST)."""
        path, parent_field = create_route(openapi, self.resource)
        schema = create_schema(openapi, self.resource)
        body = minimal_body(openapi, schema)
        through = _model_of(self.resource).through
        for name in body:
            if name in self.references and name in row:
                body[name] = row[name]
        if parent_field is not None:
            path = path.replace(f"{{{parent_field}}}", str(row[parent_field]))
        elif through in schema["properties"]:
            body[through] = row[through]
        return await client.post(path, json=body, headers=headers)

    async def _check_member_routes(
        self,
        client: httpx.AsyncClient,
        callers: dict[str, User],
        members: str,
        expect: Callable[[str, str, httpx.Response, int], None],
        status_of: Callable[[str, set[str], int], int],
    ) -> None:
        """The container's member routes: members list them; only admins (and superusers)
        add, change and remove; a member leaves; the last admin stays."""
        managers = {"admin", "superuser"}
        for caller in TEAM:
            headers = callers[caller].headers
            listed = await client.get(members, headers=headers)
            expect(caller, "GET members", listed, 200 if caller in READERS else 404)
            if listed.status_code == 200:
                roles = {m["email"]: m["role"] for m in listed.json()["items"]}
                expected = {callers[name].email: name for name in ("admin", "editor", "viewer")}
                if roles != expected:
                    expect(caller, f"GET members: {roles}, expected {expected}", listed, -1)
            target = callers["outsider"] if caller != "outsider" else callers["removed"]
            added = await client.post(
                members, json={"email": target.email, "role": "viewer"}, headers=headers
            )
            expect(caller, "POST members", added, status_of(caller, managers, 201))
            if added.status_code == 201:
                changed = await client.put(
                    f"{members}/{target.id}", json={"role": "editor"}, headers=headers
                )
                expect(caller, "PUT members", changed, 200)
                again = await client.post(
                    members, json={"email": target.email, "role": "viewer"}, headers=headers
                )
                expect(caller, "POST members twice", again, 409)
                removed = await client.delete(f"{members}/{target.id}", headers=headers)
                expect(caller, "DELETE members", removed, 204)
            else:  # another member (an editor's own removal would be leaving)
                other = callers["viewer" if caller == "editor" else "editor"]
                changed = await client.put(
                    f"{members}/{other.id}", json={"role": "viewer"}, headers=headers
                )
                expect(caller, "PUT members", changed, status_of(caller, managers, 200))
                removed = await client.delete(f"{members}/{other.id}", headers=headers)
                expect(caller, "DELETE members", removed, status_of(caller, managers, 204))
        admin = callers["admin"]
        unknown = {"email": f"nobody-{uuid.uuid4().hex[:10]}@example.com", "role": "viewer"}
        missing = await client.post(members, json=unknown, headers=admin.headers)
        expect("admin", "POST members of no user", missing, 404)
        demoted = await client.put(
            f"{members}/{admin.id}", json={"role": "editor"}, headers=admin.headers
        )
        expect("admin", "PUT members: the last admin demoted", demoted, 409)
        left = await client.delete(f"{members}/{admin.id}", headers=admin.headers)
        expect("admin", "DELETE members: the last admin leaves", left, 409)
        viewer = callers["viewer"]
        leaves = await client.delete(f"{members}/{viewer.id}", headers=viewer.headers)
        expect("viewer", "DELETE members: leaves", leaves, 204)
        after = await client.get(members, headers=viewer.headers)
        expect("viewer", "GET members after leaving", after, 404)

    async def _writer_in_a_team(self, live: OpenApp) -> "WriterInATeam":
        """On apps whose writes commit: a row made by an admin, and a second member who may
        write it (an editor; an admin, for the container itself) with a change to make."""
        app = await live()
        admin, writer = await app.user(), await app.user()
        row = await create_row(app.client, admin.headers, self.resource)
        resource, container = await self._container(app.client, admin.headers, row)
        members = f"{API}/{resource}/{container}/members"
        role = "admin" if _model_of(self.resource).members is not None else "editor"
        body = {"email": writer.email, "role": role}
        assert (await app.client.post(members, json=body, headers=admin.headers)).status_code == 201
        change = await self._team_change(app.client, row)
        return WriterInATeam(app, admin, writer, row, change, resource, uuid.UUID(container))

    async def test_a_member_removed_while_they_write_is_removed_after_the_write(
        self, live: OpenApp
    ) -> None:
        """The write holds the membership it relies on until it commits: a removal that
        starts meanwhile waits for it, so no write lands after its writer was removed."""
        team = await self._writer_in_a_team(live)
        app, admin, writer, row, change = team.app, team.admin, team.writer, team.row, team.change
        members = team.members
        assert change, "no field to change"
        repository = _repository_of(_model_of(self.resource))(app.database, owner_id=writer.id)

        async def remove() -> httpx.Response:
            return await app.client.delete(f"{members}/{writer.id}", headers=admin.headers)

        async with app.database.transaction():
            key = uuid.UUID(str(row["id"]))
            assert await repository.update(key, change) is not None
            removal = asyncio.create_task(remove(), context=contextvars.Context())
            await asyncio.sleep(0.5)
            assert not removal.done(), "the removal did not wait for the write"
        assert (await removal).status_code == 204
        current = await app.client.get(LOCATIONS[row["id"]], headers=admin.headers)
        assert {name: current.json()[name] for name in change} == change
        refused = await app.client.get(LOCATIONS[row["id"]], headers=writer.headers)
        assert_problem(refused, 404)

    async def test_a_write_while_its_writer_is_being_removed_waits_and_is_refused(
        self, live: OpenApp
    ) -> None:
        """The other order: the removal holds its locks first; the write waits for it to
        commit, then finds no membership (404), and nothing is written; no deadlock."""
        from src.repositories.shared import MemberRepository

        team = await self._writer_in_a_team(live)
        app, admin, writer, row, change = team.app, team.admin, team.writer, team.row, team.change
        url = LOCATIONS[row["id"]]
        openapi, item, _ = await self._routes(app.client)
        method = next(m for m in ("put", "patch", "delete") if m in openapi["paths"][item])
        repository = MemberRepository(
            app.database, _model_of(team.resource), container=team.container, caller=admin.id
        )

        async def write() -> httpx.Response:
            sent = None if method == "delete" else change
            return await app.client.request(method, url, json=sent, headers=writer.headers)

        async with app.database.transaction():
            await repository.lock()
            assert await repository.remove(writer.id)
            written = asyncio.create_task(write(), context=contextvars.Context())
            await asyncio.sleep(0.5)
            assert not written.done(), "the write did not wait for the removal"
        assert_problem(await written, 404)
        current = await app.client.get(url, headers=admin.headers)
        assert current.json()["version"] == row["version"]


@dataclass(frozen=True)
class WriterInATeam:
    app: LiveApp
    admin: User
    writer: User
    row: dict[str, Any]
    change: dict[str, Any]
    resource: str
    """The container's resource (`projects`)."""
    container: uuid.UUID

    @property
    def members(self) -> str:
        return f"{API}/{self.resource}/{self.container}/members"


def _repository_of(model: Any) -> Any:
    """The repository class of a shared (or through) model."""
    from src.repositories.shared import SharedRepository

    pending = list(SharedRepository.__subclasses__())
    while pending:
        found = pending.pop()
        if getattr(found, "model", None) is model:
            return found
        pending.extend(found.__subclasses__())
    raise AssertionError(f"no repository of {model.__name__}")

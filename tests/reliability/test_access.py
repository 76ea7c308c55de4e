"""Promises 3 and 4 of docs/reliability.md: no cross-user access, no mass assignment, no leaks.

Nothing here lists an endpoint by hand. The cases come from the app's OpenAPI document
and its models: every `{id}` path under every method, every body field and query
parameter that is a foreign key (`Base.metadata`), every JSON body. A new feature's
endpoints join the matrix, the mass-assignment probes and the leak scan by themselves.
"""

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest
from fastapi import FastAPI

from src.core.pagination import MAX_LIMIT, MAX_PAGE
from src.models import Base
from tests.conftest import TEST_PASSWORD, MakeUser, User
from tests.crud_contract import (
    free_text,
    fresh,
    reads_are_public,
    resolve,
    sample,
    unique_fields,
)
from tests.helpers import API, PROBLEM_JSON, assert_problem, assert_validation_problem
from tests.reliability.figures import assert_figure

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
# Columns the server sets; a client that sends one is refused, never obeyed.
SYSTEM_FIELDS = {
    "id": str(uuid.UUID(int=1)),
    "owner_id": str(uuid.UUID(int=2)),
    "version": 7,
    "created_at": "2000-01-01T00:00:00Z",
    "updated_at": "2000-01-01T00:00:00Z",
    "is_superuser": True,
    "hashed_password": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
}
# What a response must never carry: hashes, stack traces, SQL, driver names, source paths.
INTERNALS = re.compile(
    r"\$argon2|hashed_password|Traceback|File \"|\.py\", line|\.py:\d|site-packages|"
    + re.escape(str(Path(__file__).resolve().parents[2]))
    + r"|"
    r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b|sqlalchemy|asyncpg|aiosqlite|sqlite3|"
    r"IntegrityError|DBAPIError|psycopg"
)
SECRET_KEYS = {"password", "hashed_password"}


NESTED = re.compile(r"/api/v1/(?P<parents>\w+)/\{(?P<field>\w+)\}/(?P<rows>\w+)(?:/\{\w+\})?")
"""A nested path: its rows by id, or by a unique field (`.../tags/{code}`), or their list."""


def resource_of(path: str, action: bool = False) -> str:
    """Whose rows `path` serves; an `action` (`/api/v1/cards/{id}/close`) its first rows'."""
    nested = None if action else NESTED.fullmatch(path)
    return nested["rows"] if nested else path.removeprefix(f"{API}/").split("/")[0]


def fill(path: str, row: dict[str, Any]) -> str:
    """`path` with each `{name}` the row's value: its id, and its parent's for a nested path."""
    return re.sub(r"\{(\w+)\}", lambda name: str(row[name[1]]), path)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def resource(self) -> str:
        """Whose rows it serves: `tasks` for `/api/v1/tasks/{id}`, and for the nested
        `/api/v1/projects/{project_id}/tasks/{id}` too, and `/api/v1/cards/{id}/close`."""
        return resource_of(self.path, "x-action" in self.spec)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


class Api:
    """The app as its OpenAPI document describes it, and rows made through its endpoints."""

    def __init__(
        self, client: httpx.AsyncClient, document: dict[str, Any], make_user: MakeUser
    ) -> None:
        self.client = client
        self.document = document
        self.make_user = make_user

    def operations(self) -> list[Operation]:
        return [
            Operation(method.upper(), path, spec)
            for path, item in self.document["paths"].items()
            for method, spec in item.items()
        ]

    def operation(self, method: str, path: str) -> Operation | None:
        spec = self.document["paths"].get(path, {}).get(method.lower())
        return Operation(method, path, spec) if spec is not None else None

    def item_paths(self) -> list[str]:
        """`/api/v1/<resource>/{id}` paths of resources users create (nested ones too)."""
        return [
            path
            for path in self.document["paths"]
            if path.endswith("/{id}") and self.operation("POST", path.removesuffix("/{id}"))
        ]

    async def place(self, user: User, path: str) -> str:
        """`path` with its parameters filled from a new row of `user`'s resource there (the
        row's id, its parent for a nested path)."""
        if "{" not in path:
            return path
        action = any("x-action" in spec for spec in self.document["paths"][path].values())
        return fill(path, await self.create(user, resource_of(path, action)))

    def resolve(self, spec: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in spec:
            spec = self.document["components"]["schemas"][spec["$ref"].rsplit("/", 1)[-1]]
        return spec

    def body_schema(self, operation: Operation) -> tuple[str, dict[str, Any]] | None:
        content = operation.spec.get("requestBody", {}).get("content", {})
        for media_type in (JSON, FORM):
            if media_type in content:
                return media_type, self.resolve(content[media_type]["schema"])
        return None

    @staticmethod
    def references(resource: str, names: Any) -> dict[str, str]:
        """The foreign-key fields among `names` and the resource each points at."""
        table = Base.metadata.tables.get(resource)
        if table is None:
            return {}
        return {
            name: key.column.table.name
            for name in names
            if name in table.c and name != "owner_id"
            for key in table.c[name].foreign_keys
        }

    def value(self, spec: dict[str, Any], text: str) -> Any:
        """A valid value for a schema, shaped from `text` where it is free text."""
        spec = resolve(self.document, spec)
        if spec.get("format") == "email":
            return f"{text.lower()}-{uuid.uuid4().hex[:8]}@example.com"
        if not free_text(spec):
            return sample(self.document, spec)
        low, high = int(spec.get("minLength", 1)), int(spec.get("maxLength", 10_000))
        return (text * low)[: max(high, 1)] if len(text) < low else text[:high]

    async def create(self, user: User, resource: str, also: tuple[str, ...] = ()) -> dict[str, Any]:
        """A row of `resource` owned by `user`, and the rows it refers to; the optional
        fields `also` names are filled in too. A person to refer to is `user` themselves;
        a member of a shared container, a new account the container's creator adds."""
        if resource == "users":
            me = await self.client.get(f"{API}/users/me", headers=user.headers)
            assert me.status_code == 200, me.text
            return dict(me.json())
        if resource == "members":
            return await self._member(user)
        operation = self.operation("POST", f"{API}/{resource}")
        url = f"{API}/{resource}"
        if operation is None:  # created only under a parent: a parent of `user`'s first
            nested = next(
                (
                    found
                    for path in self.document["paths"]
                    if (found := NESTED.fullmatch(path))
                    and not path.endswith("}")  # the list, not an item
                    and found["rows"] == resource
                    and self.operation("POST", path)
                ),
                None,
            )
            assert nested is not None, f"no POST {API}/{resource}"
            operation = self.operation("POST", nested[0])
            parent = await self.create(user, nested["parents"])
            url = nested[0].replace(f"{{{nested['field']}}}", parent["id"])
        assert operation is not None
        body = await self.body(user, operation, also=also)
        response = await self.client.post(url, json=body, headers=user.headers)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def _member(self, user: User) -> dict[str, Any]:
        """A new account, added as a viewer to a new container of `user`'s: the member's
        row, with the container's field."""
        path = next(
            path
            for path in self.document["paths"]
            if (found := NESTED.fullmatch(path))
            and found["rows"] == "members"
            and not path.endswith("}")
        )
        nested = NESTED.fullmatch(path)
        assert nested is not None
        container = await self.create(user, nested["parents"])
        email = (await self.make_user()).email
        url = path.replace(f"{{{nested['field']}}}", container["id"])
        added = await self.client.post(
            url, json={"email": email, "role": "viewer"}, headers=user.headers
        )
        assert added.status_code == 201, added.text
        return {**added.json(), nested["field"]: container["id"]}

    async def body(
        self, user: User, operation: Operation, text: str = "x", also: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """A valid body: a create's required fields (and those in `also`), or an update's
        non-reference fields.

        References point at rows of `user`, created for it.
        """
        found = self.body_schema(operation)
        assert found is not None, f"{operation} takes no body"
        schema = found[1]
        properties: dict[str, Any] = schema.get("properties", {})
        references = self.references(operation.resource, properties)
        if operation.method == "POST":
            names = [*schema.get("required", []), *also]
        else:
            names = [name for name in properties if name not in references]
        body = {name: self.value(properties[name], text) for name in names}
        for name in unique_fields(operation.resource) & set(body) - set(references):
            body[name] = fresh(self.document, properties[name], (operation.resource, name))
        for name, target in references.items():
            if name in body:
                body[name] = (await self.create(user, target))["id"]
        return body

    async def state(self, root: User) -> dict[str, list[Any]]:
        """Every row every list shows a superuser: what a write anywhere would change."""
        state: dict[str, list[Any]] = {}
        for operation in self.operations():
            if operation.method != "GET" or "{" in operation.path:
                continue
            parameters = {p["name"] for p in operation.spec.get("parameters", [])}
            if not {"page", "limit"} <= parameters:
                continue
            items: list[Any] = []
            page = 1
            while True:
                response = await self.client.get(
                    operation.path, params={"page": page, "limit": MAX_LIMIT}, headers=root.headers
                )
                assert response.status_code == 200, response.text
                items += response.json()["items"]
                if page >= response.json()["pages"]:
                    break
                page += 1
            state[operation.path] = items
        return state


@pytest.fixture
def api(client: httpx.AsyncClient, app: FastAPI, make_user: MakeUser) -> Api:
    return Api(client, app.openapi(), make_user)


@pytest.fixture
async def root(make_user: MakeUser) -> User:
    return await make_user("root@example.com", superuser=True)


def _same_answer(foreign: httpx.Response, missing: httpx.Response) -> str | None:
    """None when both answers are identical to the client; else what differs."""
    if foreign.status_code != missing.status_code:
        return f"status {foreign.status_code} vs {missing.status_code}"
    if foreign.content != missing.content:
        return f"body {foreign.text!r} vs {missing.text!r}"
    if foreign.headers.get("content-type") != missing.headers.get("content-type"):
        return "content-type differs"
    if set(foreign.headers) != set(missing.headers):
        return f"headers {sorted(foreign.headers)} vs {sorted(missing.headers)}"
    return None


@dataclass
class Matrix:
    """The BOLA matrix: each request, and what went wrong, for one report at the end."""

    cases: int = 0
    reached: int = 0
    """Answers that read, changed or listed another user's row."""
    problems: list[str] = field(default_factory=list)

    def fail(self, case: str, problem: str) -> None:
        self.problems.append(f"{case}: {problem}")


async def _request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    user: User | None,
    body: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.request(
        method, url, json=body, params=params, headers=user.headers if user else None
    )


async def _probe(
    matrix: Matrix,
    api: Api,
    case: str,
    root: User,
    foreign: tuple[User, str, str, dict[str, Any] | None, dict[str, str] | None],
    missing: tuple[str, dict[str, Any] | None, dict[str, str] | None],
    *,
    lists_rows: bool = False,
) -> None:
    """A user's request on another user's row, against the same request on a random id.

    The answers must be identical, no 2xx may touch the row, and nothing anywhere changes.
    """
    attacker, method, url, body, params = foreign
    before = await api.state(root)
    response = await _request(api.client, method, url, attacker, body, params)
    baseline = await _request(api.client, method, missing[0], attacker, missing[1], missing[2])
    after = await api.state(root)
    matrix.cases += 2
    if response.is_success and (not lists_rows or response.json()["items"]):
        matrix.reached += 1
        matrix.fail(case, f"other user's row answered {response.status_code}: {response.text}")
    if (difference := _same_answer(response, baseline)) is not None:
        matrix.fail(case, f"other user's row and a missing id differ: {difference}")
    if after != before:
        matrix.fail(case, "the request changed stored rows")


async def _item_cases(
    matrix: Matrix, api: Api, path: str, method: str, users: tuple[User, User, User]
) -> None:
    alice, bob, root = users
    operation = api.operation(method, path)
    read = api.operation("GET", path) if method == "HEAD" else operation
    security = read.spec.get("security") if read is not None else None
    public = read is not None and (not security or {} in security)  # nested, Optional too
    if method in ("GET", "HEAD") and (public or reads_are_public(api.document, resource_of(path))):
        return  # anyone may read these rows: there is no other user's row to hide
    takes_body = operation is not None and api.body_schema(operation) is not None
    action = operation is not None and "x-action" in operation.spec
    row = await api.create(alice, resource_of(path, action))
    url = fill(path, row)
    bob_body = await api.body(bob, operation, "intruder") if operation and takes_body else None
    case = f"{method} {path}"

    await _probe(
        matrix,
        api,
        case,
        root,
        (bob, method, url, bob_body, None),
        (fill(path, {**row, "id": str(uuid.uuid4())}), bob_body, None),
    )
    if api.operation("GET", path):  # else the lists in `api.state` show any change
        owned = await api.client.get(url, headers=alice.headers)
        if owned.json() != row:
            matrix.fail(case, f"the owner's row changed: {row} -> {owned.json()}")

    own_body = await api.body(alice, operation, "owner") if operation and takes_body else None
    own = await _request(api.client, method, url, alice, own_body)
    matrix.cases += 1
    expected_own = operation is not None
    refused_by_rule = action and own.status_code == 409  # a new row may not meet its `When`
    if own.is_success != expected_own and not refused_by_rule:
        matrix.fail(case, f"the owner got {own.status_code} on their own row: {own.text}")


async def _body_reference_cases(
    matrix: Matrix, api: Api, operation: Operation, users: tuple[User, User, User]
) -> None:
    """A foreign key in a body naming another user's row is a 404 like a missing one."""
    alice, bob, root = users
    found = api.body_schema(operation)
    assert found is not None
    references = api.references(operation.resource, found[1].get("properties", {}))
    for name, target in references.items():
        if reads_are_public(api.document, target):
            continue  # anyone may refer to a row anyone may read (docs/design-docs.md)
        case = f"{operation} with another user's {name}"
        theirs = await api.create(alice, target)
        if operation.method == "POST":
            url, own_url = (
                await api.place(bob, operation.path),
                await api.place(alice, operation.path),
            )
            body = await api.body(bob, operation, "intruder")
            own_body = await api.body(alice, operation, "owner")
        else:
            url = await api.place(bob, operation.path)
            own_url = await api.place(alice, operation.path)
            body, own_body = {}, {}
        await _probe(
            matrix,
            api,
            case,
            root,
            (bob, operation.method, url, {**body, name: theirs["id"]}, None),
            (url, {**body, name: str(uuid.uuid4())}, None),
        )
        own = await _request(
            api.client, operation.method, own_url, alice, {**own_body, name: theirs["id"]}
        )
        matrix.cases += 1
        if not own.is_success or own.json()[name] != theirs["id"]:
            matrix.fail(case, f"the owner's own {name} got {own.status_code}: {own.text}")


async def _query_reference_cases(
    matrix: Matrix, api: Api, operation: Operation, users: tuple[User, User, User]
) -> None:
    """A list filtered by another user's row lists nothing, exactly as for a missing id."""
    alice, bob, root = users
    names = [p["name"] for p in operation.spec.get("parameters", []) if p["in"] == "query"]
    for name, target in api.references(operation.resource, names).items():
        case = f"{operation}?{name}=<another user's>"
        child = await api.create(alice, operation.resource, also=(name,))
        await _probe(
            matrix,
            api,
            case,
            root,
            (bob, "GET", operation.path, None, {name: child[name]}),
            (operation.path, None, {name: str(uuid.uuid4())}),
            lists_rows=True,
        )
        listed: list[tuple[Any, Any]] = []
        page, pages = 1, 1
        while page <= pages:  # a person names many rows: every page
            own = await api.client.get(
                operation.path,
                params={name: child[name], "page": page, "limit": MAX_LIMIT},
                headers=alice.headers,
            )
            listed += [(item["id"], item[name]) for item in own.json()["items"]]
            page, pages = page + 1, own.json()["pages"]
        matrix.cases += 1
        # A person (`assignee_id`, the caller themselves) is named by more rows than this one.
        expected = (child["id"], child[name])
        right = expected in listed and {value for _, value in listed} == {child[name]}
        if not (right if target == "users" else listed == [expected]):
            matrix.fail(case, f"the owner's filtered list is wrong: {own.text}")


async def test_bola_matrix_other_users_rows_answer_exactly_as_missing_ones(
    api: Api, alice: User, bob: User, root: User
) -> None:
    matrix = Matrix()
    users = (alice, bob, root)
    for path in api.item_paths():
        for method in METHODS:
            await _item_cases(matrix, api, path, method, users)
    for operation in api.operations():
        if operation.method in ("POST", "PUT", "PATCH") and api.body_schema(operation):
            await _body_reference_cases(matrix, api, operation, users)
        if operation.method == "GET" and "{" not in operation.path:
            await _query_reference_cases(matrix, api, operation, users)

    assert not matrix.problems, "\n".join(matrix.problems)
    assert_figure("BOLA matrix cases", matrix.cases)
    assert_figure("2xx on another user's rows", matrix.reached)


# --- superuser-only operations ----------------------------------------------


def _team_rows(resource: str) -> bool:
    """Whether `resource`'s rows are a team's (`Access: shared` or `through`)."""
    return any(
        getattr(mapper.class_, "__tablename__", None) == resource
        and (getattr(mapper.class_, "members", None) or getattr(mapper.class_, "through", None))
        for mapper in Base.registry.mappers
    )


async def test_superuser_only_operations_refuse_users_with_403(
    api: Api, alice: User, root: User
) -> None:
    guarded = [  # a team's writes document 403 too: a viewer's (the team contract tests them)
        operation
        for operation in api.operations()
        if "403" in operation.spec["responses"]
        and "{" not in operation.path
        and not _team_rows(operation.resource)
    ]
    assert guarded, "no operation documents a 403"

    for operation in guarded:
        refused = await api.client.request(operation.method, operation.path, headers=alice.headers)
        anonymous = await api.client.request(operation.method, operation.path)
        allowed = await api.client.request(operation.method, operation.path, headers=root.headers)

        assert_problem(refused, 403)
        assert_problem(anonymous, 401)
        assert allowed.is_success, (str(operation), allowed.text)


async def test_users_list_pages_every_account_in_creation_order(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    root = await make_user(superuser=True)
    users = [root, *[await make_user() for _ in range(4)]]

    pages = [
        await client.get(f"{API}/users?limit=2&page={page}", headers=root.headers)
        for page in (1, 2, 3)
    ]

    assert [page.status_code for page in pages] == [200, 200, 200]
    assert [(p.json()["total"], p.json()["pages"]) for p in pages] == [(5, 3)] * 3
    listed = [item for page in pages for item in page.json()["items"]]
    assert [item["id"] for item in listed] == [str(user.id) for user in users]
    assert [item["email"] for item in listed] == [user.email for user in users]
    assert [item["is_superuser"] for item in listed] == [True, False, False, False, False]
    assert not any(SECRET_KEYS & set(item) for item in listed)


async def test_users_list_refuses_bad_pages_before_anything_else(
    client: httpx.AsyncClient, alice: User
) -> None:
    assert_validation_problem(
        await client.get(f"{API}/users?page=0", headers=alice.headers),
        field="page",
        location="query",
    )
    assert_problem(await client.get(f"{API}/users?page=0"), 401)


# --- mass assignment -------------------------------------------------------------


def _json_writes(api: Api) -> Iterator[Operation]:
    for operation in api.operations():
        found = api.body_schema(operation)
        if operation.method in ("POST", "PUT") and found and found[0] == JSON:
            yield operation


async def test_system_fields_in_a_body_are_refused_and_nothing_is_written(
    api: Api, alice: User, root: User
) -> None:
    attempts = written = 0
    for operation in _json_writes(api):
        url = await api.place(alice, operation.path)
        accepted = api.body_schema(operation)
        assert accepted is not None
        body = await api.body(alice, operation)
        for name, value in SYSTEM_FIELDS.items():
            if name in accepted[1].get("properties", {}):
                continue  # an input the resource really has is not a system field there
            before = await api.state(root)
            response = await api.client.request(
                operation.method, url, json={**body, name: value}, headers=alice.headers
            )
            after = await api.state(root)
            attempts += 1
            written += sum(len(after[path]) != len(before[path]) for path in before)
            written += sum(
                a != b for path in before for a, b in zip(before[path], after[path], strict=False)
            )
            assert_validation_problem(response, field=name, location="body", rule="extra_forbidden")

    assert_figure("mass-assignment attempts refused", attempts)
    assert_figure("rows written by mass-assignment attempts", written)


# --- leaks -----------------------------------------------------------------------


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


def _template_of(api: Api, request: httpx.Request) -> str | None:
    for operation in api.operations():
        pattern = "^" + re.sub(r"\\\{[^/]+\\\}", "[^/]+", re.escape(operation.path)) + "$"
        if operation.method == request.method and re.match(pattern, request.url.path):
            return str(operation)
    return None


async def test_no_response_carries_a_secret_a_hash_internals_or_someone_elses_email(
    api: Api, make_user: MakeUser
) -> None:
    """An email is answered to its owner and to superusers only (docs/security.md)."""
    client = api.client
    responses: list[httpx.Response] = []

    async def keep(response: httpx.Response) -> None:
        await response.aread()
        responses.append(response)

    client.event_hooks["response"].append(keep)
    password = "Plain-Text-Pa55word-7b1e"
    short = "Sh0rt!"
    email = f"leak-{uuid.uuid4().hex[:8]}@example.com"
    register = f"{API}/auth/register"
    token = f"{API}/auth/token"

    assert (await client.post(register, json={"email": email, "password": password})).is_success
    await client.post(register, json={"email": email.upper(), "password": password})  # taken
    await client.post(register, json={"email": "nope", "password": password})  # 400
    await client.post(register, json={"email": f"x{email}", "password": short})  # 400
    await client.post(register, json={"email": email, "password": password + "\x00"})  # 400
    await client.post(register, content=b'{"email": ', headers={"content-type": JSON})  # 400
    issued = await client.post(token, data={"username": email, "password": password})
    await client.post(token, data={"username": email, "password": password + "!"})  # 401
    await client.post(token, data={"username": f"x{email}", "password": password})  # 401
    await client.post(token, data={"username": email})  # 400
    me = User(uuid.uuid4(), email, {"Authorization": f"Bearer {issued.json()['access_token']}"})
    other, root = await make_user(), await make_user(superuser=True)
    await client.get(f"{API}/users/me", headers={"Authorization": "Bearer not.a.token"})  # 401

    # Every operation: as its user, as another user, as a superuser, anonymously, and broken.
    for operation in api.operations():
        found = api.body_schema(operation)
        url = await api.place(me, operation.path)
        body: dict[str, Any] | None = None
        if found and found[0] == JSON:
            body = await api.body(me, operation)
        if found and found[0] == FORM:
            body = {"username": email, "password": password}
        send = {"data": body} if found and found[0] == FORM else {"json": body}
        for user in (other, root, None, me):
            headers = user.headers if user else None
            await client.request(operation.method, url, headers=headers, **send)  # type: ignore[arg-type]
        broken = (
            url.replace(url.rsplit("/", 1)[-1], "not-a-uuid") if "{id}" in operation.path else url
        )
        await client.request(
            operation.method,
            broken,
            params={"page": "0", "limit": str(MAX_LIMIT + 1)},
            content=b'{"unexpected": [1, {"password": "' + password.encode() + b'"}]}',
            headers={**me.headers, "content-type": JSON},
        )

    exercised = {_template_of(api, response.request) for response in responses}
    assert {str(operation) for operation in api.operations()} <= exercised
    owners = {user.email: user.headers["Authorization"] for user in (me, other, root)}
    leaks = []
    for response in responses:
        where = f"{response.request.method} {response.request.url} -> {response.status_code}"
        text = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        sender = response.request.headers.get("authorization")
        sent = unquote_plus(response.request.content.decode(errors="replace")).lower()
        for address, owner in owners.items():
            if (
                address in text.lower()
                and address not in sent
                and sender not in (owner, owners[root.email])
            ):
                leaks.append(f"{where}: shows {address} to someone other than its owner")
        for secret in (password, short, TEST_PASSWORD):
            if secret in text:
                leaks.append(f"{where}: carries a plain password")
        if match := INTERNALS.search(text):
            leaks.append(f"{where}: carries {match.group()!r}: {response.text}")
        content_type = response.headers.get("content-type", "")
        if "json" in content_type and SECRET_KEYS & set(_keys(response.json())):
            leaks.append(f"{where}: has a password field: {response.text}")
        if response.is_error and response.request.method != "HEAD":
            if not response.headers.get("content-type", "").startswith(PROBLEM_JSON):
                leaks.append(f"{where}: error is not problem+json: {response.headers}")
            elif response.json().get("status") != response.status_code:
                leaks.append(f"{where}: problem status differs: {response.text}")
        if response.status_code >= 500:
            leaks.append(f"{where}: server error {response.text}")

    assert not leaks, "\n".join(leaks)
    assert_figure("responses carrying a secret or internals", len(leaks))


# --- hostile input ---------------------------------------------------------------

MALFORMED_IDS = ("not-a-uuid", "1", "%00", "0" * 31 + "g", "' OR 1=1--", "9" * 400)
OUT_OF_RANGE = (2**31, 2**63, -(2**63) - 1, 10**30)
BAD_PAGES = ("0", "-1", str(MAX_PAGE + 1), str(2**63), str(10**30), "1e3", "abc", "%00")


def _within(spec: dict[str, Any], value: object) -> bool:
    """Whether `value` is an integer in an integer schema's range (`1e3`, `abc` are not)."""
    try:
        number = int(str(value))
    except ValueError:
        return False
    low, high = spec.get("minimum"), spec.get("maximum")
    return (low is None or number >= low) and (high is None or number <= high)


def _past_the_range(spec: dict[str, Any], candidates: tuple[Any, ...]) -> tuple[Any, ...]:
    """The candidates an integer schema refuses (a filter's `0`, a BIGINT's 2^31 may be
    fine), and one step past each of its bounds."""
    steps = [
        int(bound) + step
        for bound, step in ((spec.get("minimum"), -1), (spec.get("maximum"), 1))
        if bound is not None
    ]
    refused = [value for value in candidates if not _within(spec, value)]
    return tuple(dict.fromkeys([*refused, *(type(candidates[0])(step) for step in steps)]))


DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


async def _hostile_requests(api: Api, user: User) -> AsyncIterator[tuple[str, str, dict[str, Any]]]:
    """(method, url, request arguments), each of which must be a 400 on every backend."""
    for operation in api.operations():
        if not operation.path.startswith(API):
            continue
        parented = re.sub(r"\{(?!id\})\w+\}", str(uuid.uuid4()), operation.path)  # a nested one's
        url = parented.replace("{id}", str(uuid.uuid4()))
        if "{id}" in operation.path:
            for bad in MALFORMED_IDS:
                yield operation.method, parented.replace("{id}", bad), {}
        for parameter in operation.spec.get("parameters", []):
            if parameter["in"] == "query":
                spec = resolve(api.document, parameter["schema"])
                bad_values: tuple[str, ...] = ("nope", "%00")
                if spec.get("type") == "integer":
                    bad_values = _past_the_range(spec, BAD_PAGES)
                elif spec.get("type") == "number":
                    bad_values = ("nope", "%00", "nan", "inf", "1e400")
                elif free_text(spec):  # any text but one with a NUL or one too long
                    bad_values = ("%00", "x" * (int(spec["maxLength"]) + 1))
                for bad in bad_values:
                    yield operation.method, f"{url}?{parameter['name']}={bad}", {}
        found = api.body_schema(operation)
        if found is None:
            continue
        media_type, schema = found
        if media_type == JSON:
            send, valid = "json", await api.body(user, operation)
            yield operation.method, url, {"content": b'{"priority": 1e400}'}
            yield operation.method, url, {"content": DEEP_JSON}
        else:
            send, valid = "data", {"username": user.email, "password": TEST_PASSWORD}
        for name, spec in schema.get("properties", {}).items():
            kinds = {option.get("type") for option in api.resolve(spec).get("anyOf", [spec])}
            values: tuple[Any, ...] = ("a\x00b",) if "string" in kinds else ()
            if "integer" in kinds:
                values = _past_the_range(resolve(api.document, spec), OUT_OF_RANGE)
            for value in values:
                yield operation.method, url, {send: {**valid, name: value}}


async def test_hostile_input_is_a_400_problem_never_a_500(api: Api, alice: User) -> None:
    """NUL characters, integers past any column, malformed ids, huge pages, deep JSON."""
    failures, server_errors = [], 0
    async for method, url, request in _hostile_requests(api, alice):
        headers = {**alice.headers, **({"content-type": JSON} if "content" in request else {})}
        response = await api.client.request(method, url, headers=headers, **request)
        where = f"{method} {url} {str(request)[:120]}"
        server_errors += response.status_code >= 500
        if response.status_code != 400:
            failures.append(f"{where}: {response.status_code} {response.text[:300]}")
        elif match := INTERNALS.search(response.text):
            failures.append(f"{where}: carries {match.group()!r}")
        elif response.json()["status"] != 400:
            failures.append(f"{where}: problem status {response.json()['status']}")

    assert not failures, "\n".join(failures)
    assert_figure("500 answers to hostile input", server_errors)


async def test_the_last_page_allowed_is_an_empty_page_not_an_overflow(
    api: Api, alice: User, root: User
) -> None:
    for operation in api.operations():
        parameters = {p["name"] for p in operation.spec.get("parameters", [])}
        if operation.method != "GET" or "page" not in parameters:
            continue
        response = await api.client.get(
            await api.place(root, operation.path),
            params={"page": MAX_PAGE, "limit": MAX_LIMIT},
            headers=root.headers,
        )
        assert response.status_code == 200, (str(operation), response.text)
        assert response.json()["items"] == []

"""Error responses: problem bodies, 401 variants, unknown routes, malformed input, refused
CORS preflights; health."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from src.core.config import Settings
from src.core.database import Database
from src.main import create_app
from tests.conftest import User
from tests.helpers import (
    API,
    assert_problem,
    assert_unauthorized,
    assert_validation_problem,
    bearer,
    create_project,
    list_ids,
    mint_token,
)

PROTECTED = [
    ("GET", "/projects"),
    ("POST", "/projects"),
    ("GET", f"/projects/{uuid.uuid4()}"),
    ("PUT", f"/projects/{uuid.uuid4()}"),
    ("DELETE", f"/projects/{uuid.uuid4()}"),
    ("GET", "/tasks"),
    ("POST", "/tasks"),
    ("GET", f"/tasks/{uuid.uuid4()}"),
    ("PUT", f"/tasks/{uuid.uuid4()}"),
    ("DELETE", f"/tasks/{uuid.uuid4()}"),
    ("GET", "/users/me"),
]


# --- validation problems ----------------------------------------------------


async def test_validation_error_is_a_400_problem_with_field_errors(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.post(f"{API}/projects", json={"name": "n" * 201}, headers=alice.headers)

    body = assert_problem(response, 400)
    assert set(body) == {"type", "title", "status", "detail", "errors"}
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert (error["field"], error["location"], error["rule"]) == (
        "name",
        "body",
        "string_too_long",
    )
    assert error["message"]


async def test_every_invalid_field_is_reported(client: httpx.AsyncClient, alice: User) -> None:
    response = await client.post(
        f"{API}/projects",
        json={"name": "", "status": "gone", "description": "d" * 2001},
        headers=alice.headers,
    )

    body = assert_problem(response, 400)
    assert {(e["field"], e["location"]) for e in body["errors"]} == {
        ("name", "body"),
        ("status", "body"),
        ("description", "body"),
    }


async def test_query_error_names_the_query_parameter(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.get(f"{API}/projects?limit=0", headers=alice.headers)

    body = assert_validation_problem(response, field="limit", location="query")
    assert body["errors"][0]["rule"] == "greater_than_equal"


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@pytest.mark.parametrize("header", ["2", "W/2", '"2', "'2'"])
async def test_a_malformed_if_match_says_what_the_header_must_look_like(
    client: httpx.AsyncClient, alice: User, method: str, header: str
) -> None:
    """Not the regular expression it broke: what to send instead."""
    project = await create_project(client, alice)
    url = f"{API}/projects/{project['id']}"

    response = await client.request(
        method, url, json={}, headers={**alice.headers, "If-Match": header}
    )

    body = assert_validation_problem(response, field="If-Match", location="header")
    expected = 'If-Match must be one or more quoted ETags as sent in ETag, e.g. "3" or W/"3", or *'
    assert [e["message"] for e in body["errors"]] == [expected]
    assert body["detail"] == f"Invalid request. If-Match: {expected}"
    assert (await client.get(url, headers=alice.headers)).json() == project


async def test_an_overlong_if_match_keeps_its_own_message(
    client: httpx.AsyncClient, alice: User
) -> None:
    project = await create_project(client, alice)
    headers = {**alice.headers, "If-Match": '"1", ' * 300}

    response = await client.put(f"{API}/projects/{project['id']}", json={}, headers=headers)

    assert_validation_problem(response, field="If-Match", location="header", rule="string_too_long")


async def test_malformed_uuid_in_path_is_a_path_400(
    client: httpx.AsyncClient, alice: User, subtests: pytest.Subtests
) -> None:
    for resource in ("projects", "tasks"):
        for method in ("GET", "PUT", "DELETE"):
            with subtests.test(method=method, resource=resource):
                response = await client.request(
                    method, f"{API}/{resource}/not-a-uuid", json={}, headers=alice.headers
                )

                assert_validation_problem(
                    response, field="id", location="path", rule="uuid_parsing"
                )


async def test_malformed_json_body_is_a_400_problem_and_writes_nothing(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.post(
        f"{API}/projects",
        content=b'{"name": "Apollo",',
        headers={**alice.headers, "Content-Type": "application/json"},
    )

    body = assert_problem(response, 400)
    assert [e["rule"] for e in body["errors"]] == ["json_invalid"]
    assert body["errors"][0]["location"] == "body"
    assert await list_ids(client, alice, "projects") == []


async def test_malformed_json_on_update_is_a_400_and_changes_nothing(
    client: httpx.AsyncClient, alice: User
) -> None:
    created = await create_project(client, alice)

    response = await client.put(
        f"{API}/projects/{created['id']}",
        content=b"{name: 'x'}",
        headers={**alice.headers, "Content-Type": "application/json"},
    )

    assert_problem(response, 400)
    fetched = await client.get(f"{API}/projects/{created['id']}", headers=alice.headers)
    assert fetched.json() == created


async def test_json_body_that_is_not_an_object_is_a_400(
    client: httpx.AsyncClient, alice: User, subtests: pytest.Subtests
) -> None:
    for payload in ([{"name": "Apollo"}], "Apollo", 42, None):
        with subtests.test(payload=payload):
            response = await client.post(f"{API}/projects", json=payload, headers=alice.headers)

            assert_validation_problem(response, field="body", location="body")
            assert await list_ids(client, alice, "projects") == []


# --- 401 --------------------------------------------------------------------


async def test_every_protected_route_without_a_token_is_401(
    client: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    for method, path in PROTECTED:
        with subtests.test(method=method, path=path):
            response = await client.request(method, f"{API}{path}", json={"name": "x"})

            assert_unauthorized(response)


MALFORMED_AUTHORIZATION = [
    "Bearer",  # no token
    "Bearer not.a.jwt",  # three segments, none of them a JWT part
    "Bearer abc",  # not even three segments
    "Basic YWxpY2U6c2VjcmV0",  # another scheme
    "Token abc",  # an unknown scheme
]


async def test_malformed_authorization_header_is_401(
    client: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    for authorization in MALFORMED_AUTHORIZATION:
        with subtests.test(authorization=authorization):
            response = await client.get(f"{API}/projects", headers={"Authorization": authorization})

            assert_unauthorized(response)


async def test_expired_token_is_401(
    client: httpx.AsyncClient, alice: User, settings: Settings
) -> None:
    token = mint_token(settings, alice.id, issued=timedelta(hours=-2), lifetime=timedelta(hours=1))

    assert_unauthorized(await client.get(f"{API}/projects", headers=bearer(token)))


async def test_token_signed_with_another_secret_is_401(
    client: httpx.AsyncClient, alice: User, settings: Settings
) -> None:
    token = mint_token(settings, alice.id, secret="another-secret-that-is-long-enough-0123456789")

    assert_unauthorized(await client.get(f"{API}/projects", headers=bearer(token)))


async def test_hand_minted_token_with_the_right_secret_is_accepted(
    client: httpx.AsyncClient, alice: User, settings: Settings
) -> None:
    """The control for the two tests above: only expiry or the signature made them fail."""
    token = mint_token(settings, alice.id)

    response = await client.get(f"{API}/users/me", headers=bearer(token))

    assert response.status_code == 200
    assert response.json()["id"] == str(alice.id)


async def test_token_with_a_tampered_payload_is_401(
    client: httpx.AsyncClient, alice: User, bob: User, settings: Settings
) -> None:
    header, _, signature = mint_token(settings, alice.id).split(".")
    _, payload, _ = mint_token(settings, bob.id, superuser=True).split(".")

    response = await client.get(
        f"{API}/projects", headers=bearer(f"{header}.{payload}.{signature}")
    )

    assert_unauthorized(response)


async def test_unauthenticated_post_with_invalid_body_is_401_not_400(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(f"{API}/projects", json={"name": "", "owner_id": "x"})

    assert_unauthorized(response)


async def test_unreadable_json_is_400_even_without_a_token(client: httpx.AsyncClient) -> None:
    """A body that is not JSON at all is refused before identity is looked at (FastAPI
    decodes the body before it runs dependencies); a readable body is checked after auth."""
    response = await client.post(
        f"{API}/projects", content=b"{oops", headers={"Content-Type": "application/json"}
    )

    body = assert_problem(response, 400)
    assert [e["rule"] for e in body["errors"]] == ["json_invalid"]


async def test_unauthenticated_request_with_bad_query_or_path_is_401(
    client: httpx.AsyncClient,
) -> None:
    assert_unauthorized(await client.get(f"{API}/projects?limit=0"))
    assert_unauthorized(await client.get(f"{API}/tasks/not-a-uuid"))


# --- unknown routes and methods ----------------------------------------------


async def test_unknown_route_is_a_404_problem(
    client: httpx.AsyncClient, alice: User, subtests: pytest.Subtests
) -> None:
    for path in ("/nope", f"{API}/nope", f"{API}/projects/{uuid.uuid4()}/x"):
        with subtests.test(path=path):
            response = await client.get(path, headers=alice.headers)

            assert_problem(response, 404)


WRONG_METHODS = [
    ("PATCH", f"{API}/projects/{uuid.uuid4()}"),
    ("DELETE", f"{API}/projects"),
    ("PUT", f"{API}/tasks"),
    ("GET", f"{API}/auth/token"),
]


async def test_wrong_method_is_a_405_problem(
    client: httpx.AsyncClient, alice: User, subtests: pytest.Subtests
) -> None:
    for method, path in WRONG_METHODS:
        with subtests.test(method=method, path=path):
            response = await client.request(method, path, headers=alice.headers)

            assert_problem(response, 405)


# --- refused CORS preflights -------------------------------------------------------

CORS_ORIGIN = "https://app.example.com"
EVIL_ORIGIN = "https://evil.example"
ALLOWED_METHODS = "(allowed: GET, POST, PUT, DELETE)"
REFUSED_PREFLIGHTS = [  # what the browser asks, what the problem's detail says after "refused: "
    (
        {"Origin": EVIL_ORIGIN, "Access-Control-Request-Method": "GET"},
        f"origin {EVIL_ORIGIN} is not allowed",
    ),
    (
        {"Origin": CORS_ORIGIN, "Access-Control-Request-Method": "PATCH"},
        f"method PATCH is not allowed {ALLOWED_METHODS}",
    ),
    (
        {
            "Origin": CORS_ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization, x-secret",
        },
        "headers not allowed: x-secret",
    ),
    (
        {"Origin": EVIL_ORIGIN, "Access-Control-Request-Method": "PATCH"},
        f"origin {EVIL_ORIGIN} is not allowed; method PATCH is not allowed {ALLOWED_METHODS}",
    ),
]


@pytest.fixture
async def cors_client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"cors_origins": CORS_ORIGIN}), database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_a_refused_cors_preflight_is_a_400_problem_saying_what_was_refused(
    cors_client: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    for headers, refused in REFUSED_PREFLIGHTS:
        with subtests.test(refused=refused):
            response = await cors_client.options(f"{API}/projects", headers=headers)

            body = assert_problem(response, 400)
            assert set(body) == {"type", "title", "status", "detail"}
            assert body["detail"] == f"CORS preflight refused: {refused}"
            assert response.headers["x-request-id"]


async def test_an_allowed_cors_preflight_is_still_a_200(cors_client: httpx.AsyncClient) -> None:
    response = await cors_client.options(
        f"{API}/projects",
        headers={
            "Origin": CORS_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == CORS_ORIGIN


# --- health -------------------------------------------------------------------


async def test_liveness_answers_200(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")

    assert response.status_code == 200


async def test_readiness_answers_200_when_the_database_answers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}

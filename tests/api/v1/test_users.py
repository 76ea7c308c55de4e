"""People have names (issue 22, section 4): a name at registration or made from the email,
`GET /users/me` showing it, and `PATCH /users/me` changing the name or the password."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from src.core.config import Settings
from src.core.database import Database
from src.main import create_app
from src.repositories.user_repo import UserRepository
from tests.conftest import TEST_PASSWORD, MakeUser, User
from tests.helpers import (
    API,
    assert_problem,
    assert_unauthorized,
    assert_validation_problem,
    bearer,
)

PASSWORD = "violet kettle rainfall"
NEW_PASSWORD = "quartz meadow lantern 41"
USER_KEYS = {"id", "email", "name", "is_superuser", "created_at", "updated_at", "version"}


async def _register(client: httpx.AsyncClient, email: str, **fields: Any) -> httpx.Response:
    body = {"email": email, "password": PASSWORD, **fields}
    return await client.post(f"{API}/auth/register", json=body)


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(f"{API}/auth/token", data={"username": email, "password": password})


async def _me_of(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Any:
    """The account as its owner reads it, after logging in."""
    login = await _login(client, email, password)
    assert login.status_code == 200, login.text
    response = await client.get(f"{API}/users/me", headers=bearer(login.json()["access_token"]))
    assert response.status_code == 200, response.text
    return response.json()


async def _patch(client: httpx.AsyncClient, user: User, body: dict[str, Any]) -> httpx.Response:
    return await client.patch(f"{API}/users/me", json=body, headers=user.headers)


async def _me(client: httpx.AsyncClient, user: User) -> Any:
    response = await client.get(f"{API}/users/me", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


# --- registration ------------------------------------------------------------------------


async def test_register_keeps_the_name_sent_as_sent(client: httpx.AsyncClient) -> None:
    name = "  Ada  Lovelace, Countess 👩‍💻 "  # spaces kept; an emoji is several characters

    response = await _register(client, "ada@example.com", name=name)

    assert response.status_code == 202, response.text
    me = await _me_of(client, "ada@example.com")
    assert set(me) == USER_KEYS
    assert me["name"] == name


async def test_register_without_a_name_names_the_user_after_the_emails_local_part(
    client: httpx.AsyncClient,
) -> None:
    response = await _register(client, "Carol.Smith+work@Example.COM")

    assert response.status_code == 202, response.text
    assert (await _me_of(client, "carol.smith+work@example.com"))["name"] == "carol.smith+work"


async def test_register_takes_a_name_of_exactly_100_characters(client: httpx.AsyncClient) -> None:
    name = "é" * 100  # characters, not bytes

    response = await _register(client, "ada@example.com", name=name)

    assert response.status_code == 202, response.text
    assert (await _me_of(client, "ada@example.com"))["name"] == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "string_too_short"),
        ("x" * 101, "string_too_long"),
        ("Ada\x00", "value_error"),
        (None, "string_type"),
        (7, "string_type"),
    ],
)
async def test_register_refuses_a_name_outside_its_rules_naming_it(
    client: httpx.AsyncClient, database: Database, name: object, rule: str
) -> None:
    response = await _register(client, "ada@example.com", name=name)

    assert_validation_problem(response, field="name", location="body", rule=rule)
    assert await UserRepository(database).get_by_email("ada@example.com") is None


# --- GET /users/me -------------------------------------------------------------------------


async def test_me_answers_the_callers_name(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    grace = await make_user("grace@example.com", name="Grace Hopper")

    assert (await _me(client, grace))["name"] == "Grace Hopper"


# --- PATCH /users/me: the name -------------------------------------------------------------


async def test_patch_changes_the_name_and_answers_the_account(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    before = await _me(client, alice)

    response = await _patch(client, alice, {"name": "Alice Liddell"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == USER_KEYS
    assert body["name"] == "Alice Liddell"
    assert body["version"] == before["version"] + 1
    assert {key: body[key] for key in ("id", "email", "is_superuser", "created_at")} == {
        key: before[key] for key in ("id", "email", "is_superuser", "created_at")
    }
    assert await _me(client, alice) == body
    assert (await _me(client, bob))["name"] == "bob"  # no one else's changes


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "string_too_short"),
        ("x" * 101, "string_too_long"),
        ("a\x00b", "value_error"),
        (None, "string_type"),
    ],
)
async def test_patch_refuses_a_name_outside_its_rules_and_changes_nothing(
    client: httpx.AsyncClient, alice: User, name: object, rule: str
) -> None:
    before = await _me(client, alice)

    response = await _patch(client, alice, {"name": name})

    assert_validation_problem(response, field="name", location="body", rule=rule)
    assert await _me(client, alice) == before


async def test_patch_of_nothing_answers_the_account_unchanged(
    client: httpx.AsyncClient, alice: User
) -> None:
    before = await _me(client, alice)

    response = await _patch(client, alice, {})

    assert response.status_code == 200, response.text
    assert response.json() == before
    assert await _me(client, alice) == before


@pytest.mark.parametrize(
    "field", ["nickname", "email", "is_superuser", "hashed_password", "password", "id"]
)
async def test_patch_refuses_a_field_it_does_not_take(
    client: httpx.AsyncClient, alice: User, field: str
) -> None:
    before = await _me(client, alice)

    response = await _patch(client, alice, {"name": "Alice", field: "x"})

    assert_validation_problem(response, field=field, location="body", rule="extra_forbidden")
    assert await _me(client, alice) == before


async def test_patch_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_unauthorized(await client.patch(f"{API}/users/me", json={"name": "Mallory"}))


# --- PATCH /users/me: the password ---------------------------------------------------------


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(f"{API}/auth/refresh", json={"refresh_token": token})


async def test_patch_changes_the_password_given_the_current_one_and_ends_every_session(
    client: httpx.AsyncClient, alice: User
) -> None:
    sessions = [(await _login(client, alice.email, TEST_PASSWORD)).json() for _ in "ab"]

    response = await _patch(
        client, alice, {"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD}
    )

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "alice"
    assert NEW_PASSWORD not in response.text
    for session in sessions:
        assert_unauthorized(await _refresh(client, session["refresh_token"]))
    assert_unauthorized(await _login(client, alice.email, TEST_PASSWORD))
    assert (await _me_of(client, alice.email, NEW_PASSWORD))["id"] == str(alice.id)


async def test_patch_changes_the_name_and_the_password_together(
    client: httpx.AsyncClient, alice: User
) -> None:
    body = {"name": "Alice L.", "current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD}

    response = await _patch(client, alice, body)

    assert response.status_code == 200, response.text
    assert (await _me_of(client, alice.email, NEW_PASSWORD))["name"] == "Alice L."


async def test_patch_with_a_wrong_current_password_answers_as_the_password_route_does(
    client: httpx.AsyncClient, alice: User
) -> None:
    session = (await _login(client, alice.email, TEST_PASSWORD)).json()["refresh_token"]
    before = await _me(client, alice)
    wrong = {"current_password": "not the password", "new_password": NEW_PASSWORD}

    patched = await _patch(client, alice, {**wrong, "name": "Mallory"})
    posted = await client.post(f"{API}/users/me/password", json=wrong, headers=alice.headers)

    assert_validation_problem(
        patched, field="current_password", location="body", rule="password_mismatch"
    )
    assert patched.json() == posted.json()
    assert await _me(client, alice) == before  # nor the name: all or nothing
    assert (await _refresh(client, session)).status_code == 200
    assert (await _login(client, alice.email, TEST_PASSWORD)).status_code == 200


async def test_patch_refuses_a_weak_new_password_and_changes_nothing(
    client: httpx.AsyncClient, alice: User
) -> None:
    before = await _me(client, alice)

    response = await _patch(
        client, alice, {"current_password": TEST_PASSWORD, "new_password": "password1234"}
    )

    assert_validation_problem(response, field="new_password", location="body", rule="weak_password")
    assert await _me(client, alice) == before


@pytest.mark.parametrize(
    ("sent", "missing"),
    [
        ({"new_password": NEW_PASSWORD}, "current_password"),
        ({"new_password": NEW_PASSWORD, "name": "Alice"}, "current_password"),
        ({"current_password": TEST_PASSWORD}, "new_password"),
    ],
)
async def test_patch_needs_both_password_fields_or_neither(
    client: httpx.AsyncClient, alice: User, sent: dict[str, str], missing: str
) -> None:
    before = await _me(client, alice)

    response = await _patch(client, alice, sent)

    assert_validation_problem(response, field=missing, location="body", rule="missing")
    assert await _me(client, alice) == before
    assert (await _login(client, alice.email, TEST_PASSWORD)).status_code == 200


@pytest.fixture
async def strict_client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app of its own (own counters) allowing 2 logins per (address, account)."""
    limited = {"redis_url": None, "rate_limit_per_client_account": "2/minute"}
    app: FastAPI = create_app(settings.model_copy(update=limited), database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await app.state.limiter.aclose()


async def test_patch_counts_a_password_change_as_a_login_and_a_name_change_not_at_all(
    strict_client: httpx.AsyncClient, alice: User
) -> None:
    wrong = {"current_password": "not the password", "new_password": NEW_PASSWORD}

    renames = [await _patch(strict_client, alice, {"name": f"Alice {n}"}) for n in range(5)]
    guesses = [await _patch(strict_client, alice, wrong) for _ in range(3)]

    assert [response.status_code for response in renames] == [200] * 5
    assert [response.status_code for response in guesses[:2]] == [400, 400]
    assert_problem(guesses[2], 429)
    assert "retry-after" in guesses[2].headers

"""Registration, password-flow tokens and /users/me (sessions: test_sessions.py)."""

import secrets
import uuid
from typing import Any

import httpx
import jwt
import pytest

from src.core.config import Settings
from src.core.database import Database
from src.repositories.user_repo import UserRepository
from tests.conftest import TEST_PASSWORD, MakeUser, User
from tests.helpers import (
    API,
    assert_unauthorized,
    assert_validation_problem,
    bearer,
    mint_token,
)

USER_KEYS = {"id", "email", "name", "is_superuser", "created_at", "updated_at", "version"}
PASSWORD = "violet kettle rainfall"


async def register(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    return await client.post(f"{API}/auth/register", json={"email": email, "password": password})


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(f"{API}/auth/token", data={"username": email, "password": password})


# --- register ---------------------------------------------------------------

ACCEPTED = {"detail": "Registration received: log in with this email and password"}


async def test_register_answers_202_and_creates_the_user(
    client: httpx.AsyncClient, database: Database
) -> None:
    response = await register(client, "carol@example.com")

    assert response.status_code == 202, response.text
    assert response.json() == ACCEPTED
    assert PASSWORD not in response.text
    user = await UserRepository(database).get_by_email("carol@example.com")
    assert user is not None
    assert user.is_superuser is False
    assert user.hashed_password != PASSWORD
    assert (await login(client, "carol@example.com", PASSWORD)).status_code == 200


async def test_register_lowercases_the_email(client: httpx.AsyncClient) -> None:
    response = await register(client, "Carol.Smith@Example.COM")

    assert response.status_code == 202, response.text
    assert (await login(client, "carol.smith@example.com", PASSWORD)).status_code == 200


async def test_register_answers_a_taken_email_exactly_as_a_new_one_and_keeps_the_first(
    client: httpx.AsyncClient,
) -> None:
    """No 409 that tells who has an account (security review finding 4)."""
    first = await register(client, "carol@example.com", "first orbit lantern")

    same = await register(client, "carol@example.com", "second orbit lantern")
    other_case = await register(client, "CAROL@Example.com", "second orbit lantern")

    for response in (first, same, other_case):
        assert response.status_code == 202, response.text
        assert response.json() == ACCEPTED
        assert set(response.headers) == set(first.headers)
    assert_unauthorized(await login(client, "carol@example.com", "second orbit lantern"))
    assert (await login(client, "carol@example.com", "first orbit lantern")).status_code == 200


async def test_register_invalid_email_is_400(
    client: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    for email in ("not-an-email", "carol@", "@example.com", ""):
        with subtests.test(email=email):
            response = await register(client, email)

            assert_validation_problem(response, field="email", location="body")


@pytest.mark.parametrize(
    ("password", "rule"),
    [("x" * 11, "string_too_short"), ("x" * 129, "string_too_long")],
)
async def test_register_password_outside_12_to_128_is_400(
    client: httpx.AsyncClient, password: str, rule: str
) -> None:
    response = await register(client, "carol@example.com", password)

    assert_validation_problem(response, field="password", location="body", rule=rule)


@pytest.mark.parametrize(
    "password",
    [
        "password",  # the review's examples, padded to the minimum length where needed
        "password1234",
        "123456789012",
        " " * 12,
        "carol@example.com",
        "carol2026carol",
        "Example-Example!",
        "qwertyuiopasdf",
        "abcdefghijklmnop",
        "aaaaaaaaaaaaaaaa",
        "iloveyou12345",
    ],
)
async def test_register_refuses_common_and_email_built_passwords(
    client: httpx.AsyncClient, password: str
) -> None:
    """Finding 5: the rule is the length and zxcvbn's guessability with the email's parts
    as words an attacker knows."""
    response = await register(client, "carol@example.com", password)

    rules = {"string_too_short", "weak_password"}
    body = assert_validation_problem(response, field="password", location="body")
    assert body["errors"][0]["rule"] in rules
    if body["errors"][0]["rule"] == "weak_password":
        assert "guess" in body["detail"] or "email" in body["detail"]


@pytest.mark.parametrize(
    "password",
    [
        "sunny lamp orbit",
        "kQ9#vL2!mZ7@pR4$",
        "p" * 2 + "Xy7!mountain-bike-salad",
        "é" * 4 + " river 93 stone",
    ],
)
async def test_register_accepts_passwords_hard_to_guess(
    client: httpx.AsyncClient, password: str
) -> None:
    response = await register(client, "carol@example.com", password)

    assert response.status_code == 202, response.text
    assert (await login(client, "carol@example.com", password)).status_code == 200


async def test_register_accepts_a_random_password_of_128_characters(
    client: httpx.AsyncClient,
) -> None:
    password = secrets.token_urlsafe(96)[:128]

    assert (await register(client, "carol@example.com", password)).status_code == 202
    assert (await login(client, "carol@example.com", password)).status_code == 200


async def test_register_cannot_make_a_superuser(
    client: httpx.AsyncClient, database: Database
) -> None:
    response = await client.post(
        f"{API}/auth/register",
        json={"email": "mallory@example.com", "password": PASSWORD, "is_superuser": True},
    )

    assert_validation_problem(
        response, field="is_superuser", location="body", rule="extra_forbidden"
    )
    assert (await register(client, "mallory@example.com")).status_code == 202
    user = await UserRepository(database).get_by_email("mallory@example.com")
    assert user is not None
    assert user.is_superuser is False


# --- token ------------------------------------------------------------------


async def test_token_for_valid_credentials_is_a_bearer_jwt_for_that_user(
    client: httpx.AsyncClient, alice: User, settings: Settings
) -> None:
    response = await login(client, alice.email, TEST_PASSWORD)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_expire_minutes * 60
    assert body["expires_in"] > 0
    claims: dict[str, Any] = jwt.decode(
        body["access_token"], settings.secret_key, algorithms=["HS256"], issuer="featwright"
    )
    assert claims["sub"] == str(alice.id)
    assert claims["su"] is False
    assert claims["exp"] - claims["iat"] == body["expires_in"]


async def test_token_of_a_superuser_says_so(
    client: httpx.AsyncClient, make_user: MakeUser, settings: Settings
) -> None:
    root = await make_user("root@example.com", superuser=True)

    response = await login(client, root.email, TEST_PASSWORD)

    token = response.json()["access_token"]
    claims = jwt.decode(token, settings.secret_key, algorithms=["HS256"], issuer="featwright")
    assert claims["su"] is True


async def test_wrong_password_and_unknown_email_get_the_same_401(
    client: httpx.AsyncClient, alice: User
) -> None:
    wrong_password = await login(client, alice.email, "not the password")
    unknown_email = await login(client, "nobody@example.com", TEST_PASSWORD)

    assert_unauthorized(wrong_password)
    assert_unauthorized(unknown_email)
    assert wrong_password.json() == unknown_email.json()
    assert "access_token" not in wrong_password.text


async def test_token_requires_form_fields(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/auth/token", data={"username": "carol@example.com"})

    assert_validation_problem(response, field="password", location="body", rule="missing")


async def test_registered_user_logs_in_and_uses_the_api(client: httpx.AsyncClient) -> None:
    assert (await register(client, "Dave@Example.com")).status_code == 202

    token = (await login(client, "dave@example.com", PASSWORD)).json()["access_token"]
    me = await client.get(f"{API}/users/me", headers=bearer(token))
    created = await client.post(f"{API}/projects", json={"name": "Dave's"}, headers=bearer(token))

    assert me.status_code == 200
    assert me.json()["email"] == "dave@example.com"
    assert created.status_code == 201, created.text


# --- users/me ---------------------------------------------------------------


async def test_me_returns_the_caller(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    response = await client.get(f"{API}/users/me", headers=alice.headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == USER_KEYS
    assert (body["id"], body["email"], body["is_superuser"]) == (
        str(alice.id),
        "alice@example.com",
        False,
    )
    assert (await client.get(f"{API}/users/me", headers=bob.headers)).json()["id"] == str(bob.id)


async def test_me_of_a_superuser_says_so(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    root = await make_user("root@example.com", superuser=True)

    response = await client.get(f"{API}/users/me", headers=root.headers)

    assert response.json()["is_superuser"] is True


async def test_me_without_a_token_is_401(client: httpx.AsyncClient) -> None:
    assert_unauthorized(await client.get(f"{API}/users/me"))


async def test_me_with_a_token_for_an_unknown_user_is_401(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    token = mint_token(settings, uuid.uuid4())

    assert_unauthorized(await client.get(f"{API}/users/me", headers=bearer(token)))

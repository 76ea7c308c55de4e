"""Sessions (security review, finding 1 and the account lifecycle): refresh tokens that
rotate and detect reuse, logout, password change, and superuser rights that live on the
server rather than in the token."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from src.core.config import Settings
from src.core.database import Database
from src.main import create_app
from src.models.refresh_token import RefreshToken
from src.repositories.user_repo import UserRepository
from tests.conftest import TEST_PASSWORD, MakeUser, User
from tests.helpers import (
    API,
    assert_problem,
    assert_unauthorized,
    assert_validation_problem,
    bearer,
    create_project,
)

NEW_PASSWORD = "quartz meadow lantern 41"


async def _login(client: httpx.AsyncClient, email: str, password: str = TEST_PASSWORD) -> Any:
    response = await client.post(
        f"{API}/auth/token", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(f"{API}/auth/refresh", json={"refresh_token": token})


# --- refresh tokens --------------------------------------------------------------------


async def test_token_answers_are_never_cached(client: httpx.AsyncClient, alice: User) -> None:
    login = await client.post(
        f"{API}/auth/token", data={"username": alice.email, "password": TEST_PASSWORD}
    )
    refreshed = await _refresh(client, login.json()["refresh_token"])

    for response in (login, refreshed):
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"


async def test_refresh_rotates_the_pair_and_the_new_access_token_works(
    client: httpx.AsyncClient, alice: User
) -> None:
    first = await _login(client, alice.email)

    response = await _refresh(client, first["refresh_token"])

    assert response.status_code == 200, response.text
    second = response.json()
    assert set(second) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert second["refresh_token"] != first["refresh_token"]
    me = await client.get(f"{API}/users/me", headers=bearer(second["access_token"]))
    assert me.json()["id"] == str(alice.id)
    third = await _refresh(client, second["refresh_token"])
    assert third.status_code == 200


async def test_refresh_tokens_are_stored_as_digests_only(
    client: httpx.AsyncClient, alice: User, database: Database
) -> None:
    token = (await _login(client, alice.email))["refresh_token"]

    async with database.session() as session:
        digests = (await session.scalars(select(RefreshToken.digest))).all()

    assert token not in digests
    assert len(digests) == 1
    assert len(digests[0]) == 64


async def test_a_used_refresh_token_presented_again_ends_its_whole_session(
    client: httpx.AsyncClient, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    """RFC 6819 5.2.2.3: the second use of a rotated token means a copy is out there, so
    the legitimate client's newer token stops working too."""
    stolen = (await _login(client, alice.email))["refresh_token"]
    other_session = (await _login(client, alice.email))["refresh_token"]
    current = (await _refresh(client, stolen)).json()["refresh_token"]

    replayed = await _refresh(client, stolen)
    after = await _refresh(client, current)

    assert_unauthorized(replayed)
    assert "already used" in replayed.json()["detail"]
    assert_unauthorized(after)
    assert (await _refresh(client, other_session)).status_code == 200  # another login lives
    events = [r.msg for r in caplog.records if r.name == "src.security"]
    assert [e["kind"] for e in events] == ["refresh_token_reused"]  # type: ignore[index]
    assert alice.email not in caplog.text


@pytest.mark.parametrize("token", ["unknown", "x" * 100])
async def test_an_unknown_refresh_token_is_401(client: httpx.AsyncClient, token: str) -> None:
    assert_unauthorized(await _refresh(client, token))


async def test_refresh_token_input_is_bounded(client: httpx.AsyncClient) -> None:
    response = await _refresh(client, "x" * 101)

    assert_validation_problem(response, field="refresh_token", location="body")


async def test_a_refresh_token_expires_after_refresh_token_expire_days(
    settings: Settings, database: Database, alice: User
) -> None:
    clock = _Clock()
    app = create_app(settings, database, clock=clock)
    async with _client(app) as client:
        token = (await _login(client, alice.email))["refresh_token"]
        clock.now += timedelta(days=settings.refresh_token_expire_days, seconds=1)

        assert_unauthorized(await _refresh(client, token))


async def test_a_refresh_token_of_a_deleted_user_is_401(
    client: httpx.AsyncClient, make_user: MakeUser, database: Database
) -> None:
    carol = await make_user("carol@example.com")
    token = (await _login(client, carol.email))["refresh_token"]

    await UserRepository(database).delete(carol.id)

    assert_unauthorized(await _refresh(client, token))


# --- logout ----------------------------------------------------------------------------


async def test_logout_ends_the_session_of_its_refresh_token_only(
    client: httpx.AsyncClient, alice: User
) -> None:
    session = await _login(client, alice.email)
    rotated = (await _refresh(client, session["refresh_token"])).json()["refresh_token"]
    other = (await _login(client, alice.email))["refresh_token"]

    response = await client.post(f"{API}/auth/logout", json={"refresh_token": rotated})

    assert response.status_code == 204
    assert response.content == b""
    assert_unauthorized(await _refresh(client, rotated))
    assert (await _refresh(client, other)).status_code == 200


async def test_logout_of_an_unknown_or_ended_session_is_204(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        response = await client.post(f"{API}/auth/logout", json={"refresh_token": "nothing"})
        assert response.status_code == 204


# --- password change -------------------------------------------------------------------


async def _change(client: httpx.AsyncClient, user: User, current: str, new: str) -> Any:
    return await client.post(
        f"{API}/users/me/password",
        json={"current_password": current, "new_password": new},
        headers=user.headers,
    )


async def test_a_password_change_takes_the_new_password_and_ends_every_session(
    client: httpx.AsyncClient, alice: User
) -> None:
    sessions = [(await _login(client, alice.email))["refresh_token"] for _ in "ab"]

    response = await _change(client, alice, TEST_PASSWORD, NEW_PASSWORD)

    assert response.status_code == 204, response.text
    for token in sessions:
        assert_unauthorized(await _refresh(client, token))
    old = await client.post(
        f"{API}/auth/token", data={"username": alice.email, "password": TEST_PASSWORD}
    )
    assert_unauthorized(old)
    assert (await _login(client, alice.email, NEW_PASSWORD))["access_token"]


async def test_a_password_change_needs_the_current_password_and_changes_nothing_without(
    client: httpx.AsyncClient, alice: User
) -> None:
    session = (await _login(client, alice.email))["refresh_token"]

    response = await _change(client, alice, "not the password", NEW_PASSWORD)

    body = assert_validation_problem(
        response, field="current_password", location="body", rule="password_mismatch"
    )
    assert "current" in body["detail"]
    assert (await _login(client, alice.email))["access_token"]
    assert (await _refresh(client, session)).status_code == 200


@pytest.mark.parametrize(
    ("new", "rule"),
    [
        ("short", "string_too_short"),
        ("password1234", "weak_password"),
        ("alice-2026-x!", "weak_password"),
    ],
)
async def test_a_weak_new_password_is_400_and_changes_nothing(
    client: httpx.AsyncClient, alice: User, new: str, rule: str
) -> None:
    response = await _change(client, alice, TEST_PASSWORD, new)

    assert_validation_problem(response, field="new_password", location="body", rule=rule)
    assert (await _login(client, alice.email))["access_token"]


async def test_a_password_change_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/users/me/password",
        json={"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD},
    )

    assert_unauthorized(response)


# --- superuser rights live on the server ----------------------------------------------


async def test_a_demoted_superusers_token_loses_the_rights_at_the_next_request(
    client: httpx.AsyncClient, make_user: MakeUser, alice: User, database: Database
) -> None:
    """Finding 1: the token still says `su`, the row no longer does."""
    root = await make_user("root@example.com", superuser=True)
    theirs = await create_project(client, alice)
    own = await create_project(client, root, name="Root's")
    path = f"{API}/projects/{theirs['id']}"
    assert (await client.get(path, headers=root.headers)).status_code == 200
    assert (await client.get(f"{API}/users", headers=root.headers)).status_code == 200

    await UserRepository(database).update(root.id, {"is_superuser": False})

    assert_problem(await client.get(path, headers=root.headers), 404)
    assert_problem(await client.put(path, json={"name": "x"}, headers=root.headers), 404)
    assert_problem(await client.delete(path, headers=root.headers), 404)
    assert_problem(await client.get(f"{API}/users", headers=root.headers), 403)
    me = await client.get(f"{API}/users/me", headers=root.headers)
    assert me.json()["is_superuser"] is False  # the account is still theirs
    listed = (await client.get(f"{API}/projects", headers=root.headers)).json()
    assert [item["id"] for item in listed["items"]] == [own["id"]]
    assert (await client.get(path, headers=alice.headers)).json()["name"] == theirs["name"]


async def test_a_deleted_superusers_token_reaches_nothing(
    client: httpx.AsyncClient, make_user: MakeUser, alice: User, database: Database
) -> None:
    root = await make_user("root@example.com", superuser=True)
    theirs = await create_project(client, alice)
    path = f"{API}/projects/{theirs['id']}"

    await UserRepository(database).delete(root.id)

    assert_problem(await client.get(path, headers=root.headers), 404)
    assert_problem(await client.delete(path, headers=root.headers), 404)
    assert_problem(await client.get(f"{API}/users", headers=root.headers), 403)
    assert (await client.get(path, headers=alice.headers)).status_code == 200


async def test_a_token_claiming_superuser_for_a_plain_user_gets_no_rights(
    client: httpx.AsyncClient, app: FastAPI, alice: User, bob: User
) -> None:
    """A claim is only a hint: even a validly signed `su` is checked against the row."""
    from src.core.security import Principal

    forged = app.state.tokens.issue(Principal(id=bob.id, is_superuser=True))
    theirs = await create_project(client, alice)

    answer = await client.get(f"{API}/projects/{theirs['id']}", headers=bearer(forged))

    assert_problem(answer, 404)
    assert_problem(await client.get(f"{API}/users", headers=bearer(forged)), 403)


async def test_a_promoted_user_needs_a_new_token_for_the_rights(
    client: httpx.AsyncClient, make_user: MakeUser, alice: User, database: Database
) -> None:
    carol = await make_user("carol@example.com")
    session = (await _login(client, carol.email))["refresh_token"]
    theirs = await create_project(client, alice)
    await UserRepository(database).update(carol.id, {"is_superuser": True})

    refreshed = (await _refresh(client, session)).json()["access_token"]

    path = f"{API}/projects/{theirs['id']}"
    assert_problem(await client.get(path, headers=carol.headers), 404)
    assert (await client.get(path, headers=bearer(refreshed))).status_code == 200


class _Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

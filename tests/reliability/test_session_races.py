"""Ending a session while a refresh of it is in flight (security review follow-up): on
PostgreSQL an UPDATE that waited on the rotation's lock would not see the token the rotation
added, so the session would live on. Real connections, one per request (`live_app`)."""

import asyncio
from typing import Any

import httpx
import pytest

from src.repositories.refresh_token_repo import RefreshTokenRepository
from tests.conftest import TEST_PASSWORD
from tests.helpers import API
from tests.reliability.conftest import OpenApp

NEW_PASSWORD = "violet harbor copper 77"


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(f"{API}/auth/refresh", json={"refresh_token": token})


@pytest.mark.parametrize("ending", ["logout", "reuse", "password change"])
async def test_a_session_ended_during_a_rotation_stays_ended(
    live_app: OpenApp, monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    live = await live_app()
    client, user = live.client, await live.user()
    form = {"username": user.email, "password": TEST_PASSWORD}
    tokens = (await client.post(f"{API}/auth/token", data=form)).json()
    stolen = tokens["refresh_token"]
    held = stolen
    if ending == "reuse":  # the thief rotated already; the owner's replay must end it all
        held = (await _refresh(client, stolen)).json()["refresh_token"]

    inside, release = asyncio.Event(), asyncio.Event()
    add = RefreshTokenRepository.add

    async def add_after_release(self: RefreshTokenRepository, **values: Any) -> None:
        if not inside.is_set():  # the rotation has marked its token used and holds the locks
            inside.set()
            await release.wait()
        await add(self, **values)

    monkeypatch.setattr(RefreshTokenRepository, "add", add_after_release)
    rotation = asyncio.create_task(_refresh(client, held))
    await inside.wait()
    if ending == "logout":
        end = client.post(f"{API}/auth/logout", json={"refresh_token": held})
    elif ending == "reuse":
        end = _refresh(client, stolen)
    else:
        end = client.post(
            f"{API}/users/me/password",
            json={"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD},
            headers=user.headers,
        )
    ended = asyncio.create_task(end)
    await asyncio.sleep(0.5)  # the ending reaches the rotation's lock and waits there
    release.set()
    rotated, answer = await rotation, await ended

    assert answer.status_code in (204, 401), answer.text
    if rotated.status_code == 200:  # minted while the session was being ended
        assert (await _refresh(client, rotated.json()["refresh_token"])).status_code == 401

"""Promise 2: a retried create never makes a second row."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from src.core.config import Settings
from src.models.base import utcnow
from src.models.project import Project
from src.schemas.problem import Problem
from src.services.idempotency_service import fingerprint, purge_expired_keys
from tests.conftest import Backend
from tests.helpers import API, PROBLEM_JSON
from tests.reliability.conftest import OpenApp
from tests.reliability.figures import assert_figure

CONCURRENT = 10


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_concurrent_creates_with_one_key_make_one_row(
    live_app: OpenApp, backend: Backend
) -> None:
    live = await live_app()
    user = await live.user()
    keyed = {**user.headers, "Idempotency-Key": f"burst-{uuid.uuid4()}"}
    answers = await asyncio.gather(
        *(
            live.client.post(f"{API}/projects", json={"name": "once"}, headers=keyed)
            for _ in range(CONCURRENT)
        )
    )
    created = [answer for answer in answers if answer.status_code == 201]
    in_flight = [answer for answer in answers if answer.status_code == 409]
    assert len(created) + len(in_flight) == CONCURRENT, [a.status_code for a in answers]
    assert created, "no request completed"
    assert {answer.content for answer in created} == {created[0].content}
    for answer in in_flight:
        assert answer.headers["content-type"] == PROBLEM_JSON
        assert answer.headers["retry-after"] == "1"
        Problem.model_validate(answer.json())
    rows = await live.count(Project, user)
    replay = await live.client.post(f"{API}/projects", json={"name": "once"}, headers=keyed)
    assert replay.content == created[0].content
    assert rows == 1
    assert_figure(f"rows per key after {CONCURRENT} concurrent POSTs ({backend.name})", rows)


async def test_replay_lives_24_hours_by_the_clock(live_app: OpenApp, settings: Settings) -> None:
    clock = Clock()
    live = await live_app(clock=clock)
    user = await live.user()
    keyed = {**user.headers, "Idempotency-Key": "daily-report"}
    first = await live.client.post(f"{API}/projects", json={"name": "a"}, headers=keyed)
    assert first.status_code == 201
    window = timedelta(hours=settings.idempotency_ttl_hours)

    clock.now += window - timedelta(seconds=1)
    replayed = await live.client.post(f"{API}/projects", json={"name": "a"}, headers=keyed)
    assert replayed.content == first.content
    assert replayed.headers["idempotent-replayed"] == "true"

    clock.now += timedelta(seconds=1)
    expired = await live.client.post(f"{API}/projects", json={"name": "a"}, headers=keyed)
    assert expired.status_code == 201
    assert "idempotent-replayed" not in expired.headers
    assert expired.json()["id"] != first.json()["id"]
    assert await live.count(Project, user) == 2
    assert_figure("idempotency replay window", window / timedelta(hours=1), "h")


async def test_expired_keys_are_purged(live_app: OpenApp) -> None:
    clock = Clock()
    live = await live_app(clock=clock)
    user = await live.user()
    for key in ("old-1", "old-2"):
        keyed = {**user.headers, "Idempotency-Key": key}
        created = await live.client.post(f"{API}/projects", json={"name": key}, headers=keyed)
        assert created.status_code == 201
    clock.now += timedelta(hours=30)
    fresh = {**user.headers, "Idempotency-Key": "fresh"}
    assert (await live.client.post(f"{API}/projects", json={"name": "f"}, headers=fresh)).is_success

    assert await purge_expired_keys(live.database, clock) == 2
    assert await purge_expired_keys(live.database, clock) == 0
    replayed = await live.client.post(f"{API}/projects", json={"name": "f"}, headers=fresh)
    assert replayed.headers["idempotent-replayed"] == "true"


async def test_keys_are_scoped_to_the_user_and_the_route(live_app: OpenApp) -> None:
    live = await live_app()
    alice, bob = await live.user(), await live.user()
    key = {"Idempotency-Key": "shared-key"}
    mine = await live.client.post(
        f"{API}/projects", json={"name": "p"}, headers={**alice.headers, **key}
    )
    theirs = await live.client.post(
        f"{API}/projects", json={"name": "p"}, headers={**bob.headers, **key}
    )
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    task = await live.client.post(
        f"{API}/tasks",
        json={"project_id": mine.json()["id"], "title": "t"},
        headers={**alice.headers, **key},
    )
    assert task.status_code == 201, task.text
    assert "idempotent-replayed" not in task.headers


async def test_a_failed_create_stores_nothing(live_app: OpenApp) -> None:
    live = await live_app()
    user = await live.user()
    keyed = {**user.headers, "Idempotency-Key": "retry-me"}
    body = {"project_id": str(uuid.uuid4()), "title": "t"}
    missing = await live.client.post(f"{API}/tasks", json=body, headers=keyed)
    assert missing.status_code == 404
    project = await live.client.post(f"{API}/projects", json={"name": "p"}, headers=user.headers)
    fixed = {**body, "project_id": project.json()["id"]}
    retried = await live.client.post(f"{API}/tasks", json=fixed, headers=keyed)
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers


def test_a_value_made_per_request_is_not_part_of_the_body_s_fingerprint() -> None:
    """A `utcnow()` default is new on every request; the body the client sent is not, so a
    replay with the same body is a replay, not "a different request body" (422)."""

    class Entry(BaseModel):
        minutes: int
        logged_at: datetime = Field(default_factory=utcnow)

    first, again = Entry(minutes=5), Entry(minutes=5)
    assert fingerprint(first) == fingerprint(again)
    assert fingerprint(Entry(minutes=6)) != fingerprint(first)
    sent = datetime(2026, 1, 1, tzinfo=UTC)
    assert fingerprint(Entry(minutes=5, logged_at=sent)) != fingerprint(first)

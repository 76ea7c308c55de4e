"""Promise 1: concurrent writers holding the same ETag: exactly one wins, none is lost."""

import asyncio
from collections import Counter

import pytest

from tests.conftest import Backend
from tests.helpers import API
from tests.reliability.conftest import OpenApp
from tests.reliability.figures import assert_figure

ROUNDS = 100


@pytest.mark.parametrize("writers", [2, 8])
async def test_concurrent_puts_with_one_etag_have_one_winner(
    live_app: OpenApp, backend: Backend, writers: int
) -> None:
    live = await live_app()
    client, user = live.client, await live.user()
    created = await client.post(f"{API}/projects", json={"name": "start"}, headers=user.headers)
    url = f"{API}/projects/{created.json()['id']}"
    outcomes: Counter[int] = Counter()
    lost_updates = one_winner_rounds = 0
    for round_number in range(ROUNDS):
        before = await client.get(url, headers=user.headers)
        conditional = {**user.headers, "If-Match": before.headers["etag"]}
        names = [f"round {round_number} writer {writer}" for writer in range(writers)]
        answers = await asyncio.gather(
            *(client.put(url, json={"name": name}, headers=conditional) for name in names)
        )
        outcomes.update(answer.status_code for answer in answers)
        winners = [answer for answer in answers if answer.status_code == 200]
        assert sorted(answer.status_code for answer in answers) == [200] + [412] * (writers - 1)
        one_winner_rounds += 1
        after = (await client.get(url, headers=user.headers)).json()
        if after != winners[0].json() or after["version"] != before.json()["version"] + 1:
            lost_updates += 1
    assert outcomes == {200: ROUNDS, 412: ROUNDS * (writers - 1)}
    assert_figure(f"rounds of {writers} concurrent PUTs ({backend.name})", one_winner_rounds)
    assert_figure(f"lost updates, {writers} writers ({backend.name})", lost_updates)

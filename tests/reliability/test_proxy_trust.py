"""Which client the per-address login limit counts, on a real `featwright serve`: the
address the connection comes from, unless it comes from a proxy FORWARDED_ALLOW_IPS names;
then the address that proxy wrote in X-Forwarded-For. By default no proxy is trusted, not
even 127.0.0.1 (which uvicorn alone would trust)."""

import itertools
import secrets
import uuid
from pathlib import Path

import httpx
import pytest

from tests.live_server import LiveServer, featwright_env, running_server, upgrade

CLIENT_LIMIT = 3
FORGED = (f"203.0.113.{number}" for number in itertools.count(1))  # TEST-NET-3


@pytest.fixture
def migrated(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'proxy.db'}"
    upgrade(featwright_env(url), tmp_path)
    return url


def _server_env(url: str, **settings: str) -> dict[str, str]:
    """A server with a small per-address limit, its counters in its own memory, and
    FORWARDED_ALLOW_IPS only as given."""
    env = featwright_env(url, rate_limit_per_client=f"{CLIENT_LIMIT}/minute")
    env.pop("FORWARDED_ALLOW_IPS", None)
    env.pop("REDIS_URL", None)
    return {**env, **{name.upper(): value for name, value in settings.items()}}


async def _failed_login(
    server: LiveServer, *, forwarded_for: str, source: str = "127.0.0.1"
) -> int:
    """One login attempt for an account that does not exist (a new email each time, so
    only the per-address limit can refuse it), from the loopback address `source`."""
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(base_url=server.url, transport=transport, timeout=10) as client:
        answer = await client.post(
            "/api/v1/auth/token",
            data={
                "username": f"nobody-{uuid.uuid4().hex[:12]}@example.com",
                "password": secrets.token_urlsafe(16),
            },
            headers={"X-Forwarded-For": forwarded_for},
        )
    return answer.status_code


async def test_x_forwarded_for_names_the_client_only_from_a_trusted_proxy(
    migrated: str, tmp_path: Path
) -> None:
    # Default: the header is ignored even from 127.0.0.1, so a new forged address with
    # every attempt is still the one client 127.0.0.1.
    with running_server(tmp_path, _server_env(migrated)) as server:
        forged = [
            await _failed_login(server, forwarded_for=next(FORGED)) for _ in range(CLIENT_LIMIT + 2)
        ]
    assert forged == [401] * CLIENT_LIMIT + [429] * 2

    # The proxy 127.0.0.1 trusted: the client is the address it forwards.
    trusting = _server_env(migrated, forwarded_allow_ips="127.0.0.1")
    with running_server(tmp_path, trusting) as server:
        first = next(FORGED)
        spent = [await _failed_login(server, forwarded_for=first) for _ in range(CLIENT_LIMIT + 1)]
        second = await _failed_login(server, forwarded_for=next(FORGED))
        # The same header from an address that is not the proxy names no one: counted
        # as 127.0.0.2, not as the spent client.
        not_from_the_proxy = await _failed_login(server, forwarded_for=first, source="127.0.0.2")
    assert spent == [401] * CLIENT_LIMIT + [429]
    assert second == 401
    assert not_from_the_proxy == 401

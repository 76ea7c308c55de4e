"""Promise 6: bounded resource use. Request bodies stop at MAX_BODY_BYTES, credential
attempts at the rate limits, and production refuses to start with a weak SECRET_KEY."""

import asyncio
import hashlib
import itertools
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio
import uvicorn
from fastapi import FastAPI
from limits import parse
from pydantic import ValidationError

from src.api.ratelimit import _client_key
from src.core.config import Settings
from src.core.database import Database
from src.core.errors import RateLimited
from src.core.ratelimit import REDIS_KEY_PREFIX, AttemptLimiter, LocalFixedWindow
from src.main import create_app
from tests.conftest import TEST_PASSWORD, User
from tests.helpers import API, assert_problem
from tests.live_server import redis_unavailable
from tests.reliability.conftest import OpenApp
from tests.reliability.figures import assert_figure

PROBLEM_KEYS = {"type", "title", "status", "detail"}
CHUNK = 64 * 1024
TEBIBYTE = 1024**4
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
DEFAULTS = {name: field.default for name, field in Settings.model_fields.items()}


# --- request bodies ----------------------------------------------------------------


def _project_body(size: int) -> bytes:
    """A valid project of exactly `size` bytes (JSON allows the padding whitespace)."""
    start = b'{"name": "padded"'
    return start + b" " * (size - len(start) - 1) + b"}"


async def _project_count(client: httpx.AsyncClient, user: User) -> int:
    listed = await client.get(f"{API}/projects", headers=user.headers)
    total: int = listed.json()["total"]
    return total


async def test_a_body_at_the_limit_is_accepted_and_one_byte_more_is_413(
    client: httpx.AsyncClient, settings: Settings, alice: User
) -> None:
    limit = settings.max_body_bytes
    headers = {**alice.headers, "Content-Type": "application/json"}

    at_limit = await client.post(f"{API}/projects", content=_project_body(limit), headers=headers)
    over = await client.post(f"{API}/projects", content=_project_body(limit + 1), headers=headers)

    assert at_limit.status_code == 201, at_limit.text
    body = assert_problem(over, 413)
    assert set(body) == PROBLEM_KEYS
    assert over.headers["connection"] == "close"
    assert await _project_count(client, alice) == 1
    assert_figure("largest request body accepted", limit, "bytes")


async def test_a_chunked_body_is_cut_off_at_the_limit_and_nothing_is_written(
    client: httpx.AsyncClient, settings: Settings, alice: User
) -> None:
    """No Content-Length to refuse up front: the middleware counts as the body streams."""
    body = _project_body(2 * settings.max_body_bytes)
    sent = 0

    async def stream() -> AsyncIterator[bytes]:
        nonlocal sent
        for start in range(0, len(body), CHUNK):
            sent += len(body[start : start + CHUNK])
            yield body[start : start + CHUNK]

    response = await client.post(
        f"{API}/projects",
        content=stream(),
        headers={**alice.headers, "Content-Type": "application/json"},
    )

    assert "content-length" not in response.request.headers
    assert set(assert_problem(response, 413)) == PROBLEM_KEYS
    assert sent <= settings.max_body_bytes + CHUNK, "the body was read past the limit"
    assert await _project_count(client, alice) == 0
    assert_figure("bytes read of a 2 MiB chunked body before its 413", sent, "bytes")


@asynccontextmanager
async def _serving(app: FastAPI) -> AsyncIterator[int]:
    """The app behind a real uvicorn on a free port, in this event loop."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        assert not serving.done(), "uvicorn stopped before it started"
        await asyncio.sleep(0.01)
    try:
        yield listener.getsockname()[1]
    finally:
        server.should_exit = True
        await serving
        listener.close()


async def test_a_declared_huge_body_is_refused_before_any_of_it_arrives(app: FastAPI) -> None:
    """Headers only, announcing 1 TiB: were the body awaited, this would time out."""
    async with _serving(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.perf_counter()
        writer.write(
            b"POST /api/v1/projects HTTP/1.1\r\nHost: test\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % TEBIBYTE
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=10)  # to EOF: it closes
        elapsed = time.perf_counter() - started
        writer.close()

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), answer
    assert b"content-type: application/problem+json" in head.lower()
    assert b'"status":413' in body
    assert_figure("time to 413 a declared 1 TiB body, none of it sent", elapsed, "s")


# --- attempt limits ----------------------------------------------------------------


@asynccontextmanager
async def _client(
    settings: Settings, database: Database, address: str = "10.0.0.1", **changes: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client at `address` of an app of its own (own counters), settings changed."""
    app = create_app(settings.model_copy(update={"redis_url": None, **changes}), database)
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await app.state.limiter.aclose()


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(f"{API}/auth/token", data={"username": email, "password": password})


def _assert_rate_limited(response: httpx.Response, window_seconds: int) -> int:
    assert_problem(response, 429)
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window_seconds
    return retry_after


async def test_failed_logins_of_one_pair_past_its_limit_are_429_even_the_right_password(
    settings: Settings, database: Database, alice: User, bob: User
) -> None:
    async with _client(settings, database, rate_limit_per_client_account="3/minute") as client:
        answers = [
            await _login(client, alice.email, "wrong password"),
            await _login(client, "ALICE@example.com", "wrong password"),
            await _login(client, alice.email, "wrong password"),
            await _login(client, alice.email, TEST_PASSWORD),
        ]
        other_account = await _login(client, bob.email, TEST_PASSWORD)

    assert [answer.status_code for answer in answers] == [401, 401, 401, 429]
    _assert_rate_limited(answers[-1], 60)
    assert "access_token" not in answers[-1].text
    assert other_account.status_code == 200


async def test_successful_logins_do_not_count_against_the_account(
    settings: Settings, database: Database, alice: User
) -> None:
    async with _client(settings, database, rate_limit_per_account="2/minute") as client:
        statuses = [(await _login(client, alice.email, TEST_PASSWORD)).status_code for _ in "abcd"]

    assert statuses == [200, 200, 200, 200]


async def test_parallel_guesses_from_one_address_cannot_pass_the_pair_limit_together(
    live_app: OpenApp,
) -> None:
    """The pair (10 a minute by default) is counted before the password is checked, not
    after. Real connections, one per request."""
    live = await live_app()
    alice = await live.user()
    answers = await asyncio.gather(*(_login(live.client, alice.email, "guess") for _ in range(25)))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * 10 + [429] * 15


async def test_a_slowed_account_takes_one_login_at_a_time() -> None:
    """Past RATE_LIMIT_PER_ACCOUNT the slowdown is a queue, not a parallel sleep: it bounds
    guesses at the account however many connections send them."""
    limiter = AttemptLimiter.from_settings(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            secret_key="rate-limit-test-secret-long-enough-0123456789",
            rate_limit_per_account="1/minute",
            login_slowdown_seconds=0.2,
        )
    )
    await limiter.failed_login(client="198.51.100.1", account="alice@example.com")
    finished: list[float] = []

    async def login(address: str) -> None:
        await limiter.before_login(client=address, account="alice@example.com")
        finished.append(time.monotonic())

    await asyncio.gather(*(login(f"198.51.100.{n}") for n in range(2, 6)))

    gaps = [later - earlier for earlier, later in itertools.pairwise(finished)]
    assert len(finished) == 4
    assert min(gaps) >= 0.19  # one slowdown each, one after the other
    assert not limiter._slowed  # no lock left behind


async def test_an_attack_on_an_account_from_other_addresses_cannot_lock_its_user_out(
    settings: Settings, database: Database, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 3: failures from anywhere only slow the account down; the right password
    from a new address still works while the attack goes on."""
    app = create_app(
        settings.model_copy(
            update={
                "redis_url": None,
                "rate_limit_per_account": "3/minute",
                "login_slowdown_seconds": 0.05,
            }
        ),
        database,
    )
    attackers = [f"198.51.100.{n}" for n in range(1, 5)]
    statuses = []
    for address in attackers * 3:  # 12 failures, 4 addresses: past the account's 3
        async with _address(app, address) as attacker:
            statuses.append((await _login(attacker, alice.email, "guess")).status_code)
    async with _address(app, "203.0.113.7") as owner:
        mine = await _login(owner, alice.email, TEST_PASSWORD)
    async with _address(app, attackers[0]) as attacker:
        still_attacking = await _login(attacker, alice.email, "guess")

    assert statuses == [401] * 12
    assert mine.status_code == 200, mine.text
    assert still_attacking.status_code == 401
    slowed = [event for event in _security_events(caplog) if event["kind"] == "login_slowed"]
    assert {event["client"] for event in slowed} >= {"203.0.113.7"}


async def test_registrations_with_a_victims_email_do_not_limit_the_victims_login(
    settings: Settings, database: Database, alice: User
) -> None:
    """Finding 3: registrations count against the address that sends them, never the
    account they name."""
    body = {"email": alice.email, "password": "another orbit lantern"}
    async with _client(settings, database, address="198.51.100.9") as attacker:
        statuses = [
            (await attacker.post(f"{API}/auth/register", json=body)).status_code for _ in range(12)
        ]
    async with _client(settings, database, address="203.0.113.7") as owner:
        mine = await _login(owner, alice.email, TEST_PASSWORD)

    assert statuses == [202] * 12
    assert mine.status_code == 200


async def test_attempts_from_one_address_past_its_limit_are_429(
    settings: Settings, database: Database
) -> None:
    app = create_app(
        settings.model_copy(update={"redis_url": None, "rate_limit_per_client": "3/minute"}),
        database,
    )
    answers = []
    for address in ["10.0.0.1"] * 4 + ["10.0.0.2"]:
        async with _address(app, address) as client:
            answers.append(await _login(client, f"{uuid.uuid4().hex}@example.com", "x"))

    assert [answer.status_code for answer in answers] == [401, 401, 401, 429, 401]
    _assert_rate_limited(answers[3], 60)


async def test_registrations_refresh_and_logout_count_against_the_address(
    settings: Settings, database: Database
) -> None:
    async with _client(settings, database, rate_limit_per_client="3/minute") as client:
        statuses = [
            (
                await client.post(
                    f"{API}/auth/register",
                    json={
                        "email": f"{uuid.uuid4().hex}@example.com",
                        "password": "violet kettle 77",
                    },
                )
            ).status_code,
            (await client.post(f"{API}/auth/refresh", json={"refresh_token": "x"})).status_code,
            (await client.post(f"{API}/auth/logout", json={"refresh_token": "x"})).status_code,
            (await client.post(f"{API}/auth/refresh", json={"refresh_token": "x"})).status_code,
        ]

    assert statuses == [202, 401, 204, 429]


async def test_retry_after_is_when_the_window_frees(settings: Settings, database: Database) -> None:
    limits = {"rate_limit_per_client_account": "1 per 2 seconds"}
    async with _client(settings, database, **limits) as client:
        first = await _login(client, "nobody@example.com", "x")
        refused = await _login(client, "nobody@example.com", "x")
        retry_after = _assert_rate_limited(refused, 2)
        await asyncio.sleep(retry_after)  # exactly as long as the server said
        after_waiting = await _login(client, "nobody@example.com", "x")

    assert first.status_code == 401
    assert after_waiting.status_code == 401


async def test_default_limit_per_pair_answers_429_past_10_failures_a_minute(
    settings: Settings, database: Database, alice: User
) -> None:
    names = ("rate_limit_per_client", "rate_limit_per_client_account", "rate_limit_per_account")
    async with _client(settings, database, **{name: DEFAULTS[name] for name in names}) as client:
        statuses = [(await _login(client, alice.email, "wrong")).status_code for _ in range(15)]

    assert statuses == [401] * 10 + [429] * 5
    assert_figure(
        "429s among 15 failed logins to one account from one address", statuses.count(429)
    )


async def test_default_limit_per_address_answers_429_past_30_a_minute() -> None:
    """The limiter alone (no argon2 per attempt): 35 attempts from one address."""
    limiter = AttemptLimiter.from_settings(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            secret_key="rate-limit-test-secret-long-enough-0123456789",
            **{name: DEFAULTS[name] for name in ("rate_limit_per_client", "redis_url")},
        )
    )
    refused = 0
    for _ in range(35):
        try:
            await limiter.attempt(client="10.0.0.1")
        except RateLimited:
            refused += 1

    assert_figure("429s among 35 attempts from one address in a minute", refused)


async def test_failed_logins_are_security_events_naming_the_address_and_a_hashed_account(
    settings: Settings, database: Database, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 12: failures and throttling are logged for alerting, without the email."""
    limits = {"rate_limit_per_client_account": "2/minute"}
    async with _client(settings, database, address="198.51.100.3", **limits) as client:
        for _ in range(3):
            await _login(client, alice.email, "wrong")

    events = _security_events(caplog)
    assert [event["kind"] for event in events] == [
        "login_failed",
        "login_failed",
        "login_throttled",
    ]
    assert {event["client"] for event in events} == {"198.51.100.3"}
    accounts = {event["account"] for event in events}
    assert len(accounts) == 1
    assert len(accounts.pop()) == 16
    assert alice.email not in caplog.text
    assert all(
        record.levelname == "WARNING" for record in caplog.records if record.name == "src.security"
    )


async def test_writes_past_the_per_user_limit_are_429_and_write_nothing(
    settings: Settings, database: Database, alice: User, bob: User
) -> None:
    """Finding 11: creates, updates and deletes count per user; reads and others do not."""
    limits = {"rate_limit_writes_per_user": "3/minute"}
    async with _client(settings, database, **limits) as client:
        body = {"name": "burst"}
        created = [
            await client.post(f"{API}/projects", json=body, headers=alice.headers) for _ in "abc"
        ]
        project = created[0].json()
        refused = [
            await client.post(f"{API}/projects", json=body, headers=alice.headers),
            await client.put(f"{API}/projects/{project['id']}", json=body, headers=alice.headers),
            await client.delete(f"{API}/projects/{project['id']}", headers=alice.headers),
        ]
        reads = await client.get(f"{API}/projects", headers=alice.headers)
        others = await client.post(f"{API}/projects", json=body, headers=bob.headers)

    assert [answer.status_code for answer in created] == [201, 201, 201]
    for answer in refused:
        _assert_rate_limited(answer, 60)
    assert reads.status_code == 200
    assert reads.json()["total"] == 3
    assert others.status_code == 201


def test_the_in_process_write_window_counts_per_user_and_starts_again() -> None:
    window = LocalFixedWindow(parse("2 per 10 seconds"))
    alice, bob = uuid.uuid4(), uuid.uuid4()

    answers = [window.hit(alice, now) for now in (100.0, 101.0, 102.5)]
    others = window.hit(bob, 103.0)
    next_window = window.hit(alice, 110.0)

    assert answers == [None, None, 8]  # refused until 110, the end of the window
    assert others is None
    assert next_window is None


def test_the_in_process_write_window_forgets_ended_windows_past_its_size() -> None:
    window = LocalFixedWindow(parse("5 per 10 seconds"))
    window.MAX_KEYS = 3
    for _ in range(3):
        window.hit(uuid.uuid4(), 0.0)

    window.hit(uuid.uuid4(), 20.0)

    assert len(window.windows) == 1


def _security_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [record.msg for record in caplog.records if record.name == "src.security"]  # type: ignore[misc]


@asynccontextmanager
async def _address(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


# --- shared counters (REDIS_URL) ---------------------------------------------------


@pytest.fixture
async def redis_url() -> str:
    """REDIS_URL of a reachable server (TEST_REDIS_URL, else database 11 on localhost)."""
    client = redis.asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except redis.RedisError as error:
        redis_unavailable(f"Redis not reachable at {REDIS_URL}: {error}")
    finally:
        await client.aclose()
    return REDIS_URL


async def test_apps_sharing_redis_share_the_counters(
    settings: Settings, database: Database, redis_url: str
) -> None:
    """Two apps stand for two processes: the limit holds across them, not per app."""
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    email = f"shared-{uuid.uuid4().hex}@example.com"
    shared = settings.model_copy(
        update={"redis_url": redis_url, "rate_limit_per_client_account": "3/minute"}
    )
    apps = [create_app(shared, database) for _ in range(2)]
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://t"
        )
        for app in apps
    ]
    try:
        statuses = [(await _login(clients[n % 2], email, "x")).status_code for n in range(5)]
    finally:
        for client in clients:
            await client.aclose()
        for app in apps:
            await app.state.limiter.aclose()
        await _delete_keys(redis_url, address, hashlib.sha256(email.encode()).hexdigest())

    assert statuses == [401, 401, 401, 429, 429]


async def _delete_keys(redis_url: str, *markers: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        for marker in markers:
            async for key in client.scan_iter(match=f"{REDIS_KEY_PREFIX}:*{marker}*"):
                await client.delete(key)
    finally:
        await client.aclose()


async def test_an_unreachable_redis_is_a_503_not_an_unguarded_login(
    settings: Settings, database: Database, alice: User
) -> None:
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    app = create_app(down, database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await _login(client, alice.email, TEST_PASSWORD)
    await app.state.limiter.aclose()

    assert_problem(response, 503)
    assert int(response.headers["retry-after"]) >= 1
    assert "access_token" not in response.text


# --- production settings -----------------------------------------------------------

WEAK_SECRETS = [
    pytest.param("", id="unset"),
    pytest.param("x7Gq2mP9", id="shorter than 32 bytes"),
    pytest.param("changeme", id="changeme"),
    pytest.param("secret", id="secret"),
    pytest.param("change-me-in-production", id="change-me-in-production"),
    pytest.param("CHANGE_ME_IN_PRODUCTION_0123456789abcdef", id="long placeholder"),
    pytest.param("your-secret-key-goes-here-1234567890", id="your secret key here"),
    pytest.param("k" * 64, id="one character repeated"),
]


@pytest.mark.parametrize("secret_key", WEAK_SECRETS)
def test_production_refuses_a_weak_secret_key(secret_key: str) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY") as refused:
        Settings(_env_file=None, environment="production", secret_key=secret_key)  # type: ignore[call-arg]

    if secret_key:
        assert secret_key not in str(refused.value), "the error must not quote the key"


def test_production_accepts_a_random_secret_key(tmp_path: Path) -> None:
    key = "IEPVEoU8C8eoUyIqDxD3COwznGotHXn9W0c0RSyukos"  # secrets.token_urlsafe(32)
    settings = Settings(_env_file=None, environment="production", secret_key=key)  # type: ignore[call-arg]

    assert settings.secret_key == key
    assert key not in repr(settings)


def test_every_weak_secret_key_is_refused_in_production() -> None:
    refused = 0
    for case in WEAK_SECRETS:
        (secret_key,) = case.values
        with pytest.raises(ValidationError):
            Settings(_env_file=None, environment="production", secret_key=secret_key)  # type: ignore[call-arg]
        refused += 1

    assert_figure("weak SECRET_KEY cases refused in production", refused)


def test_serve_in_production_without_a_secret_key_exits_saying_so(tmp_path: Path) -> None:
    """In an empty directory: no .env, no var/secret.key to fall back on."""
    env = {name: value for name, value in os.environ.items() if name != "SECRET_KEY"}
    env.update(ENVIRONMENT="production", PORT="1", NO_COLOR="1", COLUMNS="200")
    featwright = Path(sys.executable).with_name("featwright")

    result = subprocess.run(
        [str(featwright), "serve"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip

    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "SECRET_KEY must be set when ENVIRONMENT=production" in output
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("testclient", "testclient"),
    ],
)
def test_ipv6_clients_are_counted_by_their_64(host: str, key: str) -> None:
    assert _client_key(host) == key

"""Promise 5: only a token we signed, unexpired, for us, names a caller; passwords are
argon2id at OWASP's parameters or above; a login does not tell unknown emails apart."""

import base64
import json
import secrets
import statistics
import time
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from argon2 import Type, extract_parameters
from jwt.warnings import InsecureKeyLengthWarning
from sqlalchemy import text

from src.core.config import Settings
from src.core.database import Database
from tests.helpers import API, assert_unauthorized, bearer
from tests.reliability.figures import assert_figure

# OWASP Password Storage Cheat Sheet, argon2id: m=19456 (19 MiB), t=2, p=1 at least.
OWASP_MIN_MEMORY_KIB = 19456
OWASP_MIN_ITERATIONS = 2
OWASP_MIN_PARALLELISM = 1
PASSWORD = "correct horse battery"
TIMING_ROUNDS = 5

Headers = dict[str, str]


def _claims(**changes: Any) -> dict[str, Any]:
    """Claims as TokenService.issue writes them; a change to None drops the claim."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "su": False,
        "iss": "featwright",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _signed(settings: Settings, **changes: Any) -> Headers:
    return bearer(jwt.encode(_claims(**changes), settings.secret_key, algorithm="HS256"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _payload(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _rs256(settings: Settings) -> Headers:
    """An RS256 token (PyJWT cannot sign one without `cryptography`, which the app does
    not install): the server must refuse its `alg` before any key is involved."""
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_payload(_valid(settings))).encode())
    return bearer(f"{header}.{payload}.{_b64(secrets.token_bytes(256))}")


def _valid(settings: Settings) -> str:
    return jwt.encode(_claims(), settings.secret_key, algorithm="HS256")


def _tampered_signature(settings: Settings) -> Headers:
    header, payload, signature = _valid(settings).split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return bearer(f"{header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}")


def _tampered_payload(settings: Settings) -> Headers:
    """The signature of a plain user's token over claims that now say superuser."""
    token = _valid(settings)
    header, _, signature = token.split(".")
    payload = _b64(json.dumps({**_payload(token), "su": True}).encode())
    return bearer(f"{header}.{payload}.{signature}")


def _hs512(settings: Settings) -> Headers:
    with warnings.catch_warnings(action="ignore", category=InsecureKeyLengthWarning):
        return bearer(jwt.encode(_claims(), settings.secret_key, algorithm="HS512"))


def _alg_none(_: Settings) -> Headers:
    return bearer(jwt.encode(_claims(), None, algorithm="none"))


BAD_TOKENS: list[Any] = [
    pytest.param(lambda s: {}, id="missing Authorization header"),
    pytest.param(lambda s: {"Authorization": "Bearer abc"}, id="Bearer abc: not a JWT"),
    pytest.param(lambda s: {"Authorization": "Bearer "}, id="Bearer with no token"),
    pytest.param(lambda s: {"Authorization": f"Basic {_valid(s)}"}, id="valid token, Basic scheme"),
    pytest.param(_alg_none, id="alg none, unsigned"),
    pytest.param(_hs512, id="HS512 with the same secret"),
    pytest.param(_rs256, id="RS256"),
    pytest.param(_tampered_signature, id="signature tampered"),
    pytest.param(_tampered_payload, id="payload tampered to superuser"),
    pytest.param(
        lambda s: bearer(jwt.encode(_claims(), "another-secret-" * 4, algorithm="HS256")),
        id="signed with another secret",
    ),
    pytest.param(lambda s: _signed(s, exp=datetime.now(UTC) - timedelta(seconds=1)), id="expired"),
    pytest.param(
        lambda s: _signed(s, nbf=datetime.now(UTC) + timedelta(minutes=1)), id="nbf in the future"
    ),
    pytest.param(lambda s: _signed(s, iss="someone-else"), id="wrong issuer"),
    pytest.param(lambda s: _signed(s, aud="another-service"), id="unexpected audience"),
    pytest.param(lambda s: _signed(s, sub=None), id="no sub"),
    pytest.param(lambda s: _signed(s, exp=None), id="no exp"),
    pytest.param(lambda s: _signed(s, sub="alice"), id="sub not a uuid"),
]


@pytest.mark.parametrize("make_headers", BAD_TOKENS)
async def test_a_bad_token_is_a_401_with_a_bearer_challenge(
    client: httpx.AsyncClient, settings: Settings, make_headers: Callable[[Settings], Headers]
) -> None:
    response = await client.get(f"{API}/users/me", headers=make_headers(settings))

    assert_unauthorized(response)


async def test_every_bad_token_case_is_answered_401(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    answered_401 = 0
    for case in BAD_TOKENS:
        (make_headers,) = case.values
        response = await client.get(f"{API}/users/me", headers=make_headers(settings))
        assert_unauthorized(response)
        answered_401 += 1

    assert_figure("bad-token cases answered 401", answered_401)


async def test_a_valid_token_is_accepted_so_the_table_tests_the_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """The control: the same claims, correctly signed, get past authentication."""
    response = await client.get(f"{API}/projects", headers=bearer(_valid(settings)))

    assert response.status_code == 200, response.text


async def test_passwords_are_stored_as_argon2id_at_owasp_parameters_or_above(
    client: httpx.AsyncClient, database: Database
) -> None:
    email = f"argon-{uuid.uuid4().hex[:8]}@example.com"
    registered = await client.post(
        f"{API}/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert registered.status_code == 202, registered.text

    async with database.session() as session:
        stored = await session.scalar(
            text("SELECT hashed_password FROM users WHERE email = :email"), {"email": email}
        )
    parameters = extract_parameters(stored)

    assert stored.startswith("$argon2id$")
    assert parameters.type is Type.ID
    assert parameters.memory_cost >= OWASP_MIN_MEMORY_KIB
    assert parameters.time_cost >= OWASP_MIN_ITERATIONS
    assert parameters.parallelism >= OWASP_MIN_PARALLELISM
    assert PASSWORD not in stored
    assert_figure("argon2id memory", parameters.memory_cost, "KiB")
    assert_figure("argon2id iterations", parameters.time_cost)
    assert_figure("argon2id parallelism", parameters.parallelism)


async def test_unknown_email_and_wrong_password_answer_alike_in_time_too(
    client: httpx.AsyncClient,
) -> None:
    email = f"timing-{uuid.uuid4().hex[:8]}@example.com"
    registered = await client.post(
        f"{API}/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert registered.status_code == 202, registered.text

    async def login(username: str) -> tuple[httpx.Response, float]:
        started = time.perf_counter()
        response = await client.post(
            f"{API}/auth/token", data={"username": username, "password": "not the password"}
        )
        return response, time.perf_counter() - started

    unknown_email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    await login(email)  # warm up both paths before measuring
    await login(unknown_email)
    wrong_password: list[float] = []
    unknown: list[float] = []
    for _ in range(TIMING_ROUNDS):  # interleaved, so drift hits both alike
        wrong, wrong_seconds = await login(email)
        missing, missing_seconds = await login(unknown_email)
        wrong_password.append(wrong_seconds)
        unknown.append(missing_seconds)

        assert_unauthorized(wrong)
        assert (wrong.status_code, wrong.content) == (missing.status_code, missing.content)
        same = [(k, v) for k, v in wrong.headers.multi_items() if k != "x-request-id"]
        assert same == [(k, v) for k, v in missing.headers.multi_items() if k != "x-request-id"]

    ratio = statistics.median(unknown) / statistics.median(wrong_password)
    assert 0.5 < ratio < 2, f"unknown email {unknown}, wrong password {wrong_password}"
    assert_figure("login time ratio, unknown email vs wrong password", max(ratio, 1 / ratio))

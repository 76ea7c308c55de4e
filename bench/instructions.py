"""CPU instructions per request, in-process, counted by callgrind: a measure that does not drift.

    bench/instructions.sh                 # featwright and the baseline, GET by id and POST

wrk figures on this shared 2-core machine move by 2-3x between sittings, too much to see a
change of a few per cent. callgrind counts the instructions the process runs instead, the same
on every run (to 0.1% here). This script drives one ASGI app directly (no HTTP server, no
socket), over a real PostgreSQL connection: a warm-up, then N requests with callgrind's
instrumentation switched on around them only, and prints the count per request. It is run
under valgrind by bench/instructions.sh; the uvicorn and kernel work of a served request is not
in it, and it is the same for both apps.

    python bench/instructions.py featwright|baseline get|post

featwright reads DATABASE_URL (migrated), the baseline BENCH_DSN; CALLGRIND_CONTROL names the
shared library whose cg_start/cg_stop switch the instrumentation (built by instructions.sh).
"""

import ctypes
import json
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop

Call = Callable[[], Awaitable[dict[str, Any]]]


async def call(app: Any, method: str, path: str, token: str, body: bytes = b"") -> dict[str, Any]:
    """One request through the ASGI app, as uvicorn would make it."""
    headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer


def created(answer: dict[str, Any]) -> str:
    if answer.get("status") not in (200, 201):
        raise SystemExit(f"setup request failed: {answer}")
    return str(json.loads(answer["body"])["id"])


async def featwright(app: Any, endpoint: str) -> Call:
    from src.core.security import Principal
    from src.repositories.user_repo import UserRepository

    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    account = json.dumps({"email": email, "password": "correct horse battery staple"})
    registered = await call(app, "POST", "/api/v1/auth/register", "", account.encode())
    if registered.get("status") != 202:
        raise SystemExit(f"setup request failed: {registered}")
    user = await UserRepository(app.state.database).get_by_email(email)
    token = app.state.tokens.issue(Principal(user.id))
    project = b'{"name":"bench-project"}'
    id_ = created(await call(app, "POST", "/api/v1/projects", token, project))
    if endpoint == "get":
        return lambda: call(app, "GET", f"/api/v1/projects/{id_}", token)
    return lambda: call(app, "POST", "/api/v1/projects", token, project)


async def baseline(app: Any, endpoint: str) -> Call:
    import jwt
    import raw_app  # from the baseline's folder, on PYTHONPATH

    now = int(time.time())
    claims = {"sub": "bench-user", "iat": now, "exp": now + 3600}
    token = jwt.encode(claims, raw_app.JWT_SECRET, algorithm="HS256")
    item = b'{"name":"bench-project"}'
    id_ = created(await call(app, "POST", "/items", token, item))
    if endpoint == "get":
        return lambda: call(app, "GET", f"/items/{id_}", token)
    return lambda: call(app, "POST", "/items", token, item)


async def main(target: str, endpoint: str, requests: int, warmup: int) -> None:
    control = ctypes.CDLL(os.environ["CALLGRIND_CONTROL"])
    if target == "featwright":
        from src.main import create_app

        # Every write is still counted; the limit is only set past what a run sends.
        os.environ.setdefault("RATE_LIMIT_WRITES_PER_USER", "100000000/minute")
        app, setup = create_app(), featwright
    else:
        import raw_app

        app, setup = raw_app.app, baseline
    async with app.router.lifespan_context(app):
        request = await setup(app, endpoint)
        for _ in range(warmup):
            await request()
        control.cg_start()
        for _ in range(requests):
            answer = await request()
        control.cg_stop()
    if answer.get("status") not in (200, 201):
        raise SystemExit(f"{target} {endpoint}: {answer}")


if __name__ == "__main__":
    target, endpoint = sys.argv[1], sys.argv[2]
    if target not in ("featwright", "baseline") or endpoint not in ("get", "post"):
        raise SystemExit(__doc__)
    requests = int(os.environ.get("REQUESTS", "200"))
    uvloop.run(main(target, endpoint, requests, int(os.environ.get("WARMUP_REQUESTS", "100"))))

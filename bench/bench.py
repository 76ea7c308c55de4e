"""Benchmark driver (stdlib only), started by bench/run.sh once wrk, the venvs and
PostgreSQL are ready. Run it through run.sh; the settings come from its environment.

    bench.py compare  featwright vs the raw Starlette + asyncpg baseline, both servers up
                      for the whole run, interleaved run by run   -> results/latest.json
    bench.py scale    featwright list latency vs table size         -> results/scale.json
    bench.py memory   featwright RSS over MEM_REQUESTS mixed requests -> results/memory.json

Exit status: 0 clean; 1 the run finished but saw errors (non-2xx, socket errors, memory
growth over the limit) -- the results are printed and written all the same; 2 it could
not run. Every server it starts is stopped again (SIGTERM, then SIGKILL) on the way out,
also on SIGTERM/SIGINT; their PIDs are kept in $BENCH_WORK/servers.pid so run.sh can
stop one this process could not.
"""

import datetime
import json
import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"  # loopback only, on purpose; not configurable
PG_PORT = 55432
LIMIT = 20
FW_DB = "featwright_bench"
FW_PREFIX = "/api/v1/projects"
COMPARE_ENDPOINTS = ("get", "list:1", "list:deep", "cursor:deep", "post", "put")
RATIO_TARGET = 0.6
UVICORN_BASELINE = (
    "-m uvicorn raw_app:app --host {host} --port {port} --workers 1 --loop uvloop"
    " --http httptools --no-access-log --log-level warning"
)

# Never through a proxy, whatever the environment says: every URL here is loopback.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class BenchError(Exception):
    """The benchmark cannot go on (as opposed to errors it measured)."""


def say(message: str = "") -> None:
    print(message, flush=True)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


# --- settings -------------------------------------------------------------------------------


@dataclass
class Config:
    root: Path
    work: Path
    base_dir: Path  # writable copy of the shared baseline folder
    base_py: Path
    rows: int
    runs: int
    duration: int
    warmup: int
    conns: int
    endpoints: list[str]
    sizes: list[int]
    port: int
    base_port: int
    mem_requests: int
    mem_sample_every: int
    mem_warmup: int
    mem_max_growth: float
    plot_py: str | None
    secret_key: str = field(default_factory=lambda: "bench-" + secrets.token_urlsafe(48))

    @classmethod
    def from_env(cls) -> "Config":
        root = Path(os.environ.get("ROOT") or Path(__file__).resolve().parent.parent)
        work = Path(os.environ.get("BENCH_WORK") or "/tmp/featwright-bench")  # noqa: S108
        base_dir = Path(os.environ.get("BASE_DIR") or work / "baseline")
        return cls(
            root=root,
            work=work,
            base_dir=base_dir,
            base_py=Path(os.environ.get("BASE_PY") or work / "venv/bin/python"),
            rows=env_int("ROWS", 100_000),
            runs=env_int("RUNS", 3),
            duration=env_int("DURATION", 10),
            warmup=env_int("WARMUP", 3),
            conns=env_int("CONNS", 32),
            endpoints=os.environ.get("ENDPOINTS", "").split() or list(COMPARE_ENDPOINTS),
            sizes=[int(s) for s in os.environ.get("SIZES", "10000 100000 1000000").split()],
            port=env_int("PORT", 8310),
            base_port=env_int("BASE_PORT", 8311),
            mem_requests=env_int("MEM_REQUESTS", 200_000),
            mem_sample_every=env_int("MEM_SAMPLE_EVERY", 20_000),
            mem_warmup=env_int("MEM_WARMUP", 10),
            mem_max_growth=float(os.environ.get("MEM_MAX_GROWTH") or 10),
            plot_py=os.environ.get("PLOT_PY") or None,
        )

    @property
    def results(self) -> Path:
        return self.root / "bench" / "results"

    @property
    def charts(self) -> Path:
        return self.root / "bench" / "chart"

    @property
    def fw_lua(self) -> Path:
        return self.root / "bench" / "featwright.lua"

    @property
    def base_lua(self) -> Path:
        return self.base_dir / "bench.lua"

    @property
    def fw_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.base_port}"

    def fw_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": f"postgresql+asyncpg://bench@{HOST}:{PG_PORT}/{FW_DB}",
            "SECRET_KEY": self.secret_key,
            "ACCESS_TOKEN_EXPIRE_MINUTES": "1440",  # outlives any run, even at 1M rows
            "REQUIRE_IF_MATCH": "false",  # the PUT load sends no If-Match
            # One user writes thousands a second here: every write is still counted, the
            # limit is only set past what a run sends.
            "RATE_LIMIT_WRITES_PER_USER": "100000000/minute",
            "SHUTDOWN_TIMEOUT": "5",
            "LOG_LEVEL": "warning",
        }

    def base_env(self) -> dict[str, str]:
        return {**os.environ, "BENCH_DSN": f"postgresql://bench@{HOST}:{PG_PORT}/bench"}


# --- processes ------------------------------------------------------------------------------


def run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, what: str) -> str:
    """Runs a setup command; its stdout is returned, its stderr passed through."""
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, stdout=subprocess.PIPE, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"{what} failed (exit {done.returncode}): {' '.join(map(str, cmd))}")
    return done.stdout


def psql(cfg: Config, sql: str, *, db: str = "postgres") -> str:
    pg_sh = cfg.base_dir / "pg.sh"
    return run([pg_sh, "psql", "-d", db, "-tAc", sql], cwd=cfg.base_dir, what="psql").strip()


class Server:
    """One uvicorn server this process started, stopped by PID."""

    def __init__(self, name: str, cmd: list[str], *, cwd: Path, env: dict[str, str], cfg: Config):
        self.name, self.cmd, self.cwd, self.env = name, [str(c) for c in cmd], cwd, env
        self.log = cfg.work / f"server-{name}.log"
        self.pidfile = cfg.work / "servers.pid"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, port: int) -> None:
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((HOST, port)) == 0:
                raise BenchError(f"something already listens on {HOST}:{port} (set PORT/BASE_PORT)")
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a terminal's ^C reaches run.sh, which stops us in order
            )
        with self.pidfile.open("a") as pids:
            pids.write(f"{self.proc.pid}\n")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, url: str, token: str, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return False
            if http("GET", url, token)[0] == 200:
                return True
            time.sleep(0.5)
        return False

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            kept = [p for p in self.pidfile.read_text().split() if p != str(self.proc.pid)]
            self.pidfile.write_text("".join(f"{p}\n" for p in kept))
        except FileNotFoundError:
            pass
        self.proc = None

    def rss_kib(self) -> int:
        """VmRSS of the server process plus any children it has (kB, from /proc)."""
        total = 0
        for pid in [self.pid, *_children(self.pid)]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except FileNotFoundError:
                continue
        return total


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == pid:
            child = int(stat.parent.name)
            found += [child, *_children(child)]
    return found


class Servers:
    """Every server started, stopped in reverse order however the run ends."""

    def __init__(self) -> None:
        self.started: list[Server] = []

    def add(self, server: Server) -> Server:
        self.started.append(server)
        return server

    def stop_all(self) -> None:
        for server in reversed(self.started):
            server.stop()


def http(method: str, url: str, token: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with _http.open(request, timeout=30) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    except OSError:
        return 0, None
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, None


# --- wrk ------------------------------------------------------------------------------------


@dataclass
class Load:
    """One wrk load: a script, its mode and argument, against one server."""

    label: str  # what a reader sees, e.g. "GET /items?page=2500&limit=20"
    url: str
    script: Path
    mode: str  # get | post | put | path | mix
    arg: str = ""
    token: str = ""

    def run(self, seconds: int, conns: int) -> dict[str, Any]:
        cmd = f"wrk -t1 -c{conns} -d{seconds}s --timeout 10s -s {self.script} {self.url}".split()
        cmd += ["--", self.mode, self.token, self.arg]  # the script's arguments
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise BenchError(f"wrk printed no RESULT line for {self.label}: {done.stderr.strip()}")
        values = dict(item.split("=", 1) for item in line.split()[1:])
        result: dict[str, Any] = {
            k: float(values[k]) for k in ("rps", "p50_ms", "p90_ms", "p99_ms")
        }
        result |= {k: int(values[k]) for k in ("requests", "non2xx", "sockerr")}
        result["errors"] = result["non2xx"] + result["sockerr"]
        result["seconds"] = seconds
        result["load1"] = round(os.getloadavg()[0], 2)
        return result


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "rps": round(statistics.median(r["rps"] for r in runs), 1),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 3),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 3),
    }


def run_line(r: dict[str, Any]) -> str:
    return (
        f"{r['rps']:9.1f} req/s  p50 {r['p50_ms']:8.2f}  p99 {r['p99_ms']:8.2f} ms"
        f"  err {r['errors']}"
    )


def check_once(load: Load, expect: int, sample_id: str | None) -> str | None:
    """One request of the kind the load sends; a description of what is wrong, if anything."""
    base = load.url
    items = "/items" if load.script.name == "bench.lua" else FW_PREFIX
    if load.mode == "get":
        status, _ = http("GET", f"{base}{items}/{sample_id}", load.token)
    elif load.mode == "post":
        status, _ = http("POST", f"{base}{items}", load.token, {"name": "bench-check"})
    elif load.mode == "put":
        status, _ = http("PUT", f"{base}{items}/{sample_id}", load.token, {"name": "bench-check"})
    else:
        status, _ = http("GET", f"{base}{load.arg}", load.token)
    return None if status == expect else f"{load.label} answered {status}, expected {expect}"


# --- featwright and baseline setup ----------------------------------------------------------


def retrying(what: str, attempt: Callable[[], Any], tries: int = 6, pause: float = 10) -> Any:
    """The service code may be mid-edit by someone else: try again a little later."""
    for n in range(1, tries + 1):
        try:
            return attempt()
        except BenchError as error:
            if n == tries:
                raise
            say(f"bench: {what} failed ({error}); retrying in {pause:.0f}s ({n}/{tries})")
            time.sleep(pause)
    raise AssertionError("unreachable")


def create_fw_db(cfg: Config) -> None:
    psql(cfg, f"DROP DATABASE IF EXISTS {FW_DB} WITH (FORCE)")
    psql(cfg, f"CREATE DATABASE {FW_DB}")
    run(
        [cfg.root / ".venv/bin/featwright", "db", "upgrade"],
        cwd=cfg.root,
        env=cfg.fw_env(),
        what="featwright db upgrade",
    )


def seed_fw(cfg: Config, rows: int) -> tuple[str, Path]:
    """(token, ids file) for `rows` freshly seeded projects."""
    ids = cfg.work / "fw-ids.txt"
    say(f"bench: seeding featwright with {rows} projects")
    cmd = [cfg.root / ".venv/bin/python", "bench/prepare.py", f"--rows={rows}", f"--ids-out={ids}"]
    out = run(cmd, cwd=cfg.root, env=cfg.fw_env(), what="bench/prepare.py")
    return out.strip().splitlines()[-1], ids


def start_fw(cfg: Config, servers: Servers, token: str) -> Server:
    def attempt() -> Server:
        args = f"serve --host {HOST} --port {cfg.port} --no-access-log".split()
        cmd = [cfg.root / ".venv/bin/featwright", *args]
        server = Server("featwright", cmd, cwd=cfg.root, env=cfg.fw_env(), cfg=cfg)
        servers.add(server)
        server.start(cfg.port)
        if server.wait_ready(f"{cfg.fw_url}{FW_PREFIX}?limit=1", token):
            return server
        server.stop()
        raise BenchError(f"featwright did not become ready; see {server.log}")

    server: Server = retrying("starting featwright", attempt)
    return server


def start_baseline(cfg: Config, servers: Servers) -> tuple[Server, str, Path]:
    ids = cfg.work / "base-ids.txt"
    say(f"bench: seeding the baseline with {cfg.rows} items")
    run(
        [cfg.base_py, "seed.py", "--rows", str(cfg.rows), "--truncate", "--ids-out", str(ids)],
        cwd=cfg.base_dir,
        env=cfg.base_env(),
        what="baseline seed.py",
    )
    token = run(
        [cfg.base_py, "mint_token.py", "--ttl", "86400"],
        cwd=cfg.base_dir,
        env=cfg.base_env(),
        what="baseline mint_token.py",
    ).strip()
    server = servers.add(
        Server(
            "baseline",
            [cfg.base_py, *UVICORN_BASELINE.format(host=HOST, port=cfg.base_port).split()],
            cwd=cfg.base_dir,
            env=cfg.base_env(),
            cfg=cfg,
        )
    )
    server.start(cfg.base_port)
    if not server.wait_ready(f"{cfg.base_url}/items?limit=1", token):
        raise BenchError(f"the baseline did not become ready; see {server.log}")
    return server, token, ids


def mid_page(rows: int) -> int:
    last = max(1, -(-rows // LIMIT))
    return (last + 1) // 2


def cursor_path(cfg: Config, token: str, page: int) -> tuple[str | None, str]:
    """(path of `page` fetched by keyset cursor, note); path None when there is none."""
    if page < 2:
        return None, f"page {page} has no page before it to take a cursor from"
    status, body = http("GET", f"{cfg.fw_url}{FW_PREFIX}?page={page - 1}&limit={LIMIT}", token)
    if status != 200:
        return None, f"page {page - 1} answered {status}"
    if not isinstance(body, dict) or "next_cursor" not in body:
        return None, "list responses have no next_cursor (cursor pagination not in this checkout)"
    cursor = body["next_cursor"]
    if not cursor:
        return None, f"page {page - 1} has next_cursor null"
    path = f"{FW_PREFIX}?limit={LIMIT}&cursor={urllib.parse.quote(str(cursor), safe='')}"
    # The cursor must lead to the same rows as the offset page it stands for.
    by_cursor = http("GET", cfg.fw_url + path, token)
    by_offset = http("GET", f"{cfg.fw_url}{FW_PREFIX}?page={page}&limit={LIMIT}", token)
    if by_cursor[0] != 200:
        return None, f"the cursor page answered {by_cursor[0]}"
    ids = [[item.get("id") for item in r[1].get("items", [])] for r in (by_cursor, by_offset)]
    if ids[0] != ids[1]:
        say(f"bench: WARNING: page {page} by cursor and by offset hold different rows")
    return path, f"page {page} by keyset cursor"


def versions(py: Path, packages: str) -> dict[str, str]:
    """Python's and these (space-separated) packages' versions in the venv of `py`."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {'python': sys.version.split()[0]}\n"
        f"for p in {packages.split()!r}:\n"
        "    try: out[p] = m.version(p)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    try:
        done = subprocess.run([str(py), "-c", code], capture_output=True, text=True, check=True)
        return dict(json.loads(done.stdout))
    except (OSError, subprocess.CalledProcessError, ValueError):
        return {}


def environment(cfg: Config) -> dict[str, Any]:
    def out(cmd: list[str]) -> str:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=cfg.root)
            return (done.stdout or done.stderr).strip()
        except OSError:
            return ""

    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in out(["lscpu"]).splitlines()
            if ln.startswith("Model name")
        ),
        "",
    )
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "git_commit": out(["git", "rev-parse", "HEAD"]),
        "git_dirty": bool(out(["git", "status", "--porcelain", "--untracked-files=no"])),
        "host": {"cpus": os.cpu_count(), "cpu": cpu, "load_avg_at_start": os.getloadavg()},
        "wrk": out(["wrk", "-v"]).splitlines()[0] if out(["wrk", "-v"]) else "",
        "postgresql": psql(cfg, "show server_version"),
        "featwright_env": versions(
            cfg.root / ".venv/bin/python",
            "fastapi starlette pydantic sqlalchemy asyncpg uvicorn uvloop httptools",
        ),
    }


def finish(cfg: Config, data: dict[str, Any], name: str, kind: str, png: str) -> int:
    """Write the JSON and its chart; the exit status: 1 if any request failed."""
    out = cfg.results / name
    write_json(out, data)
    drawn = chart(cfg, kind, out, png)
    if data["errors_total"]:
        errors = data["errors_total"]
        say(f"bench: FAILED: {errors} error(s) (non-2xx responses or socket errors), see above")
        return 1
    return 0 if drawn else 1


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    say(f"bench: wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


def chart(cfg: Config, kind: str, source: Path, name: str) -> bool:
    if not cfg.plot_py:
        say("bench: PLOT_PY not set, no chart drawn")
        return True
    cfg.charts.mkdir(parents=True, exist_ok=True)
    outs = [cfg.results / name, cfg.charts / name]
    done = subprocess.run(
        [cfg.plot_py, str(cfg.root / "bench/chart.py"), kind, str(source), *map(str, outs)],
        cwd=cfg.root,
        check=False,
    )
    if done.returncode != 0:
        say(f"bench: drawing {name} failed (exit {done.returncode})")
        return False
    say(f"bench: wrote {', '.join(str(o.relative_to(cfg.root)) for o in outs)}")
    return True


# --- compare --------------------------------------------------------------------------------


def interleave(
    cfg: Config, pairs: list[tuple[str, Load]], *, expect: int, samples: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """A warm-up of each side, then RUNS runs alternating between them; raw runs + medians."""
    for side, load in pairs:
        problem = check_once(load, expect, samples[side])
        if problem:
            say(f"   WARNING: {problem}")
    sides: dict[str, dict[str, Any]] = {}
    for side, load in pairs:
        warm = load.run(cfg.warmup, cfg.conns) if cfg.warmup > 0 else None
        sides[side] = {"request": load.label, "wrk_mode": load.mode, "warmup": warm, "runs": []}
        if load.mode == "path":
            sides[side]["path"] = load.arg
    for n in range(1, cfg.runs + 1):
        for side, load in pairs:  # baseline, featwright, baseline, featwright ...
            result = load.run(cfg.duration, cfg.conns)
            sides[side]["runs"].append(result)
            say(f"   run {n}  {side:<10} {run_line(result)}")
    for data in sides.values():
        data["median"] = medians(data["runs"])
        data["errors"] = sum(r["errors"] for r in data["runs"])
        data["errors"] += data["warmup"]["errors"] if data["warmup"] else 0
    return sides


def compare(cfg: Config, servers: Servers) -> int:
    unknown = [e for e in cfg.endpoints if e not in COMPARE_ENDPOINTS]
    if unknown:
        raise BenchError(f"unknown endpoint(s) {unknown}; known: {' '.join(COMPARE_ENDPOINTS)}")
    endpoints = [e for e in COMPARE_ENDPOINTS if e in cfg.endpoints]  # posts after the lists

    _, base_token, base_ids = start_baseline(cfg, servers)

    def prepare() -> tuple[str, Path]:
        create_fw_db(cfg)
        return seed_fw(cfg, cfg.rows)

    fw_token, fw_ids = retrying("preparing featwright's database", prepare)
    start_fw(cfg, servers, fw_token)
    env = environment(cfg)
    env["baseline_env"] = versions(
        cfg.base_py, "starlette uvicorn uvloop httptools asyncpg orjson PyJWT"
    )
    mid = mid_page(cfg.rows)

    def on_base(label: str, mode: str, arg: str = "") -> Load:
        return Load(label, cfg.base_url, cfg.base_lua, mode, arg, base_token)

    def on_fw(label: str, mode: str, arg: str = "") -> Load:
        return Load(label, cfg.fw_url, cfg.fw_lua, mode, arg, fw_token)

    def base_page(page: int) -> Load:
        return on_base(
            f"GET /items?page={page}&limit={LIMIT}", "path", f"/items?page={page}&limit={LIMIT}"
        )

    def fw_page(page: int) -> Load:
        path = f"{FW_PREFIX}?page={page}&limit={LIMIT}"
        return on_fw(f"GET {path}", "path", path)

    # endpoint -> (baseline load or None, featwright load, note)
    plan: dict[str, tuple[Load | None, Load, str]] = {
        "get": (
            on_base("GET /items/{id}", "get", str(base_ids)),
            on_fw(f"GET {FW_PREFIX}/{{id}}", "get", str(fw_ids)),
            "",
        ),
        "list:1": (base_page(1), fw_page(1), ""),
        "list:deep": (
            base_page(mid),
            fw_page(mid),
            f"page {mid} by offset (OFFSET {(mid - 1) * LIMIT})",
        ),
        "post": (on_base("POST /items", "post"), on_fw(f"POST {FW_PREFIX}", "post"), ""),
        "put": (
            None,
            on_fw(f"PUT {FW_PREFIX}/{{id}}", "put", str(fw_ids)),
            "featwright only (no PUT in the baseline)",
        ),
    }
    skipped: dict[str, str] = {}
    if "cursor:deep" in endpoints:  # before any POST, so the pages are where they were seeded
        path, why = cursor_path(cfg, fw_token, mid)
        if path is None:
            say(f"bench: cursor:deep skipped: {why}")
            skipped["cursor:deep"] = why
        else:
            label = f"GET {FW_PREFIX}?limit={LIMIT}&cursor=<page {mid}>"
            note = f"featwright: {why}; baseline and ratio: offset list:deep"
            plan["cursor:deep"] = (base_page(mid), on_fw(label, "path", path), note)
    samples = {
        "baseline": base_ids.read_text().split()[0],
        "featwright": fw_ids.read_text().split()[0],
    }

    say()
    say(
        f"== interleaved: rows={cfg.rows} runs={cfg.runs} x {cfg.duration}s (warm-up "
        f"{cfg.warmup}s) conns={cfg.conns} wrk -t1; middle page {mid}"
    )
    report: dict[str, Any] = {}
    for ep in endpoints:
        if ep in skipped:
            continue
        base, fw, note = plan[ep]
        say(f"-- {ep}: baseline {base.label if base else '-'} | featwright {fw.label}")
        pairs = [("baseline", base), ("featwright", fw)] if base else [("featwright", fw)]
        sides = interleave(cfg, pairs, expect=201 if ep == "post" else 200, samples=samples)
        entry: dict[str, Any] = {
            "baseline": sides.get("baseline"),
            "featwright": sides["featwright"],
            "ratio": None,
            "ratio_against": None,
            "note": note,
        }
        if "baseline" in sides:
            b, f = sides["baseline"]["median"]["rps"], sides["featwright"]["median"]["rps"]
            entry["ratio"] = round(f / b, 3)
            entry["ratio_against"] = "list:deep" if ep == "cursor:deep" else ep
        report[ep] = entry
    errors = sum(
        side["errors"] for e in report.values() for side in (e["baseline"], e["featwright"]) if side
    )
    print_compare_table(cfg, report, skipped)
    data = {
        "mode": "compare",
        **env,
        "settings": {
            "rows": cfg.rows,
            "runs": cfg.runs,
            "duration_s": cfg.duration,
            "warmup_s": cfg.warmup,
            "conns": cfg.conns,
            "wrk_threads": 1,
            "limit": LIMIT,
            "middle_page": mid,
            "endpoints": endpoints,
            "featwright_port": cfg.port,
            "baseline_port": cfg.base_port,
            "baseline_dir": str(cfg.base_dir),
            "ratio_target": RATIO_TARGET,
            "featwright_cmd": "featwright serve --host 127.0.0.1 --port P --no-access-log",
            "baseline_cmd": "python " + UVICORN_BASELINE,
        },
        "load_avg_at_end": os.getloadavg(),
        "endpoints": report,
        "skipped": skipped,
        "ratios": {ep: e["ratio"] for ep, e in report.items() if e["ratio"] is not None},
        "errors_total": errors,
    }
    return finish(cfg, data, "latest.json", "ratio", "ratio.png")


def _f(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_compare_table(cfg: Config, report: dict[str, Any], skipped: dict[str, str]) -> None:
    say()
    say(
        f"rows={cfg.rows} conns={cfg.conns} wrk -t1, medians of {cfg.runs} x {cfg.duration}s runs, "
        f"interleaved baseline/featwright; ratio = featwright req/s / baseline req/s"
    )
    say()
    head = [
        "endpoint",
        "baseline req/s",
        "featwright req/s",
        "ratio",
        "baseline p50 ms",
        "baseline p99 ms",
        "featwright p50 ms",
        "featwright p99 ms",
        "errors (b/f)",
        "note",
    ]
    rows = []
    fw_get = report.get("get", {}).get("featwright", {}).get("median", {}).get("rps")
    for ep, e in report.items():
        b = (e["baseline"] or {}).get("median", {})
        f = e["featwright"]["median"]
        note = e["note"]
        if ep == "put" and fw_get:
            note = f"{note}; featwright GET {fw_get:,.0f} req/s, PUT/GET {f['rps'] / fw_get:.2f}"
        rows.append(
            [
                f"`{ep}`",
                _f(b.get("rps"), ",.0f"),
                _f(f["rps"], ",.0f"),
                _f(e["ratio"], ".2f"),
                _f(b.get("p50_ms"), ".1f"),
                _f(b.get("p99_ms"), ".1f"),
                _f(f["p50_ms"], ".1f"),
                _f(f["p99_ms"], ".1f"),
                f"{(e['baseline'] or {}).get('errors', '-')} / {e['featwright']['errors']}",
                note,
            ]
        )
    for ep, why in skipped.items():
        rows.append([f"`{ep}`", "-", "-", "-", "-", "-", "-", "-", "-", f"skipped: {why}"])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    right = {1, 2, 3, 4, 5, 6, 7, 8}

    def line(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                str(c).rjust(w) if i in right else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    rule = ["-" * (w + 1) + ":" if i in right else "-" * (w + 2) for i, w in enumerate(widths)]
    say(line(head))
    say("|" + "|".join(rule) + "|")
    for row in rows:
        say(line(row))
    say()


# --- scale ----------------------------------------------------------------------------------

SCALE_VARIANTS = {
    "offset:first": "offset, page 1",
    "offset:deep": "offset, middle page",
    "cursor:first": "cursor, page 2 (first cursor hop)",
    "cursor:deep": "cursor, middle page",
}


def scale(cfg: Config, servers: Servers) -> int:
    retrying("preparing featwright's database", lambda: create_fw_db(cfg))
    server: Server | None = None
    env = environment(cfg)
    results: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    errors = 0
    for size in cfg.sizes:
        token, _ = retrying("seeding", lambda size=size: seed_fw(cfg, size))  # type: ignore[misc]
        if server is None:
            server = start_fw(cfg, servers, token)
        mid = mid_page(size)
        say(
            f"== {size} rows: middle page {mid}; {cfg.runs} x {cfg.duration}s per variant, "
            f"warm-up {cfg.warmup}s, conns={cfg.conns}"
        )
        # variant -> (page, path or None, what it is or why there is none)
        paths: dict[str, tuple[int, str | None, str]] = {
            "offset:first": (1, f"{FW_PREFIX}?page=1&limit={LIMIT}", "page 1 by offset"),
            "offset:deep": (mid, f"{FW_PREFIX}?page={mid}&limit={LIMIT}", f"page {mid} by offset"),
            "cursor:first": (2, *cursor_path(cfg, token, 2)),
            "cursor:deep": (mid, *cursor_path(cfg, token, mid)),
        }
        for variant, (page, path, why) in paths.items():
            if path is None:
                say(f"   {variant:<13} skipped: {why}")
                skipped.append({"rows": size, "variant": variant, "reason": why})
                continue
            load = Load(why, cfg.fw_url, cfg.fw_lua, "path", path, token)
            problem = check_once(load, 200, None)
            if problem:
                say(f"   WARNING: {problem}")
            warm = load.run(cfg.warmup, cfg.conns) if cfg.warmup > 0 else None
            runs = [load.run(cfg.duration, cfg.conns) for _ in range(cfg.runs)]
            median = medians(runs)
            errs = sum(r["errors"] for r in runs) + (warm["errors"] if warm else 0)
            errors += errs
            say(f"   {variant:<13} {run_line({**median, 'errors': errs})}  ({why})")
            results.append(
                {
                    "rows": size,
                    "variant": variant,
                    "label": SCALE_VARIANTS[variant],
                    "request": why,
                    "page": page,
                    "warmup": warm,
                    "runs": runs,
                    "median": median,
                    "errors": errs,
                }
            )

    say()
    say(
        f"featwright list latency vs table size (median of {cfg.runs} x {cfg.duration}s, "
        f"conns={cfg.conns}), p50 / p99 ms:"
    )
    say()
    say("| rows | " + " | ".join(SCALE_VARIANTS.values()) + " |")
    say("|---:|" + "---:|" * len(SCALE_VARIANTS))
    for size in cfg.sizes:
        cells = []
        for variant in SCALE_VARIANTS:
            hit = next((r for r in results if r["rows"] == size and r["variant"] == variant), None)
            cells.append(
                f"{hit['median']['p50_ms']:.1f} / {hit['median']['p99_ms']:.1f}" if hit else "-"
            )
        say(f"| {size:,} | " + " | ".join(cells) + " |")
    say()
    for s in skipped:
        say(f"skipped: {s['variant']} at {s['rows']} rows: {s['reason']}")
    data = {
        "mode": "scale",
        **env,
        "settings": {
            "sizes": cfg.sizes,
            "runs": cfg.runs,
            "duration_s": cfg.duration,
            "warmup_s": cfg.warmup,
            "conns": cfg.conns,
            "wrk_threads": 1,
            "limit": LIMIT,
            "variants": SCALE_VARIANTS,
        },
        "load_avg_at_end": os.getloadavg(),
        "results": results,
        "skipped": skipped,
        "errors_total": errors,
    }
    return finish(cfg, data, "scale.json", "scale", "list-scaling.png")


# --- memory ---------------------------------------------------------------------------------


def memory(cfg: Config, servers: Servers) -> int:
    def prepare() -> tuple[str, Path]:
        create_fw_db(cfg)
        return seed_fw(cfg, cfg.rows)

    token, ids = retrying("preparing featwright's database", prepare)
    server = start_fw(cfg, servers, token)
    env = environment(cfg)
    load = Load(
        "mix: 5 GET by id, 4 POST, 1 GET page 1 (of 10)",
        cfg.fw_url,
        cfg.fw_lua,
        "mix",
        str(ids),
        token,
    )
    sample = ids.read_text().split()[0]
    for probe in (
        Load("GET by id", cfg.fw_url, cfg.fw_lua, "get", str(ids), token),
        Load("POST", cfg.fw_url, cfg.fw_lua, "post", "", token),
        Load(
            "GET page 1", cfg.fw_url, cfg.fw_lua, "path", f"{FW_PREFIX}?page=1&limit={LIMIT}", token
        ),
    ):
        problem = check_once(probe, 201 if probe.mode == "post" else 200, sample)
        if problem:
            say(f"   WARNING: {problem}")

    say(f"== memory: featwright PID {server.pid}, rows={cfg.rows}, conns={cfg.conns}, {load.label}")
    say(
        f"   warm-up {cfg.mem_warmup}s, then >= {cfg.mem_requests:,} requests, RSS sampled "
        f"every ~{cfg.mem_sample_every:,}"
    )
    warm = load.run(cfg.mem_warmup, cfg.conns)
    errors = warm["errors"]
    rps = max(warm["rps"], 1.0)
    samples = [{"requests": 0, "rss_kib": server.rss_kib(), "elapsed_s": 0.0}]
    say(
        f"   after warm-up ({warm['requests']:,} requests, {warm['rps']:.0f} req/s): "
        f"RSS {samples[0]['rss_kib'] / 1024:.1f} MiB"
    )
    chunks = []
    total, started = 0, time.monotonic()
    while total < cfg.mem_requests:
        want = min(cfg.mem_sample_every, cfg.mem_requests - total)
        seconds = max(1, math.ceil(want / rps))
        result = load.run(seconds, cfg.conns)
        if not server.alive():
            raise BenchError(f"featwright exited during the memory run; see {server.log}")
        total += result["requests"]
        errors += result["errors"]
        rps = max(result["rps"], 1.0)
        rss = server.rss_kib()
        chunks.append(result)
        samples.append(
            {"requests": total, "rss_kib": rss, "elapsed_s": round(time.monotonic() - started, 1)}
        )
        say(
            f"   {total:>9,} requests  RSS {rss / 1024:7.1f} MiB  ({seconds}s at "
            f"{result['rps']:.0f} req/s, err {result['errors']})"
        )

    first, last = samples[0]["rss_kib"], samples[-1]["rss_kib"]
    peak = max(s["rss_kib"] for s in samples)
    growth = 100.0 * (last - first) / first
    passed = growth <= cfg.mem_max_growth
    say()
    say("| featwright RSS | MiB |")
    say("|---|---:|")
    say(f"| after warm-up | {first / 1024:.1f} |")
    say(f"| after {total:,} requests | {last / 1024:.1f} |")
    say(f"| max | {peak / 1024:.1f} |")
    say(f"| growth | {growth:+.1f} % (limit {cfg.mem_max_growth:g} %) |")
    say(f"| errors | {errors} |")
    say()
    data = {
        "mode": "memory",
        **env,
        "settings": {
            "rows": cfg.rows,
            "requests_target": cfg.mem_requests,
            "sample_every": cfg.mem_sample_every,
            "warmup_s": cfg.mem_warmup,
            "conns": cfg.conns,
            "wrk_threads": 1,
            "mix": load.label,
            "max_growth_pct": cfg.mem_max_growth,
        },
        "load_avg_at_end": os.getloadavg(),
        "warmup": warm,
        "chunks": chunks,
        "samples": samples,
        "requests": total,
        "rss_kib": {"first": first, "last": last, "max": peak},
        "growth_pct": round(growth, 2),
        "passed": passed,
        "errors_total": errors,
    }
    write_json(cfg.results / "memory.json", data)
    status = 0
    if not passed:
        say(f"bench: FAILED: RSS grew {growth:.1f} % (> {cfg.mem_max_growth:g} %)")
        status = 1
    if errors:
        say(f"bench: FAILED: {errors} error(s) (non-2xx responses or socket errors)")
        status = 1
    return status


# --- main -----------------------------------------------------------------------------------


def _terminate(signum: int, _frame: object) -> None:
    # Once: a second signal (^C reaches run.sh too, which then sends TERM) must not cut
    # the stopping of the servers short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def main() -> int:
    modes = {"compare": compare, "scale": scale, "memory": memory}
    mode = sys.argv[1] if len(sys.argv) > 1 else "compare"
    if mode not in modes:
        print(f"usage: bench.py {'|'.join(modes)}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    cfg = Config.from_env()
    cfg.work.mkdir(parents=True, exist_ok=True)
    for log in cfg.work.glob("server-*.log"):  # each run's server logs start empty
        log.unlink()
    os.chdir(cfg.root)
    servers = Servers()
    try:
        return modes[mode](cfg, servers)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    finally:
        servers.stop_all()


if __name__ == "__main__":
    sys.exit(main())

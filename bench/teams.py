"""Shared rows against owned ones (issue 22's "Speed"): GET one row and list page 1 of a shared
model (projects, `Access: shared`) and of an owned one (notes) with the same columns, on one
server, one database, interleaved run by run. Run by bench/teams.sh, which says how.

The project is a copy of this checkout with bench/teams/ added by `featwright add`: FEAT-001
made shared, and FEAT-007 notes. USERS users; CONTAINERS projects with MEMBERS members each
(the first an admin), so the bench user is a member of MEMBERS of them (a different one each
time, by arithmetic); CONTAINERS notes owned round-robin by 10 users, so the bench user owns
CONTAINERS / 10 of them. The shared GET and list carry the membership check (an EXISTS on
the members table's primary key) in their one statement; the owned ones the owner rule.
"""

import statistics
import sys
from typing import Any

from relations import Project, knob, run_sql, token_of

from bench import (
    HOST,
    LIMIT,
    BenchError,
    Config,
    Load,
    Server,
    Servers,
    environment,
    psql,
    run,
    run_line,
    say,
    write_json,
)

DOCS = ("FEAT-001-projects.md", "FEAT-007-notes.md")
USER = "u0"

SEED_SQL = """
SET client_min_messages = warning;
TRUNCATE users CASCADE;
INSERT INTO users (id, email, name, hashed_password, is_superuser, created_at, updated_at)
  SELECT md5('u' || n)::uuid, 'u' || n || '@example.com', 'user ' || n, '!', false, now(), now()
  FROM generate_series(0, {users} - 1) n;
INSERT INTO projects (id, owner_id, name, description, status, created_at, updated_at, version)
  SELECT md5('p' || p)::uuid, md5('u' || ((p * 7) % {users}))::uuid, 'project-' || p, NULL,
         'active', ts, ts, 1
  FROM (SELECT p, timestamptz '2024-01-01' + p * interval '1 ms' AS ts
        FROM generate_series(0, {containers} - 1) p) s;
-- Project p's members are users (7p + k) mod USERS, k < MEMBERS: distinct, the first its
-- admin; each user is in MEMBERS projects (7 is invertible mod USERS when USERS is 10^n).
INSERT INTO project_members (project_id, user_id, role, created_at)
  SELECT md5('p' || p)::uuid, md5('u' || ((p * 7 + k) % {users}))::uuid,
         CASE WHEN k = 0 THEN 'admin' WHEN k % 2 = 1 THEN 'editor' ELSE 'viewer' END, now()
  FROM generate_series(0, {containers} - 1) p CROSS JOIN generate_series(0, {members} - 1) k;
INSERT INTO notes (id, owner_id, name, description, status, created_at, updated_at, version)
  SELECT md5('n' || n)::uuid, md5('u' || (n % 10))::uuid, 'note-' || n, NULL, 'active',
         ts, ts, 1
  FROM (SELECT n, timestamptz '2024-01-01' + n * interval '1 ms' AS ts
        FROM generate_series(0, {containers} - 1) n) s;
VACUUM ANALYZE;
"""

VARIANTS = {
    "shared:get": "GET /api/v1/projects/{id} (a member)",
    "owned:get": "GET /api/v1/notes/{id} (the owner)",
    "shared:list": "GET /api/v1/projects?limit=20 (each with the caller's role)",
    "owned:list": "GET /api/v1/notes?limit=20",
}


def main() -> int:
    cfg = Config.from_env()
    users, containers = knob("USERS", 1000), knob("CONTAINERS", 1000)
    members = knob("MEMBERS", 100)
    project = Project(cfg, name="teams", docs=DOCS)
    servers = Servers()
    runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in VARIANTS}
    try:
        say("bench: copying this checkout, adding bench/teams/")
        project.copy("")
        psql(cfg, f"DROP DATABASE IF EXISTS {project.db} WITH (FORCE)")
        psql(cfg, f"CREATE DATABASE {project.db}")
        run(project.cli("db", "upgrade"), cwd=project.path, env=project.env(), what="upgrade")
        say(
            f"bench: {containers} projects x {members} members of {users} users, {containers} notes"
        )
        sql = SEED_SQL.format(users=users, containers=containers, members=members)
        run_sql(cfg, project, sql)
        user = psql(cfg, f"SELECT md5('{USER}')::uuid", db=project.db).strip()
        token = token_of(project, user)
        mine = f"SELECT project_id FROM project_members WHERE user_id = md5('{USER}')::uuid"  # noqa: S608
        shared_ids = psql(cfg, mine, db=project.db).split()
        owned = f"SELECT id FROM notes WHERE owner_id = md5('{USER}')::uuid"  # noqa: S608
        owned_ids = psql(cfg, owned, db=project.db).split()
        if not shared_ids or not owned_ids:
            raise BenchError("the bench user has no rows; see the seed")
        files = {}
        for name, ids, prefix in (
            ("shared", shared_ids, "projects"),
            ("owned", owned_ids, "notes"),
        ):
            files[name] = cfg.work / f"teams-{name}.paths"
            files[name].write_text("".join(f"/api/v1/{prefix}/{id}\n" for id in ids))
        cmd = project.cli(*f"serve --host {HOST} --port {cfg.port} --no-access-log".split())
        server = servers.add(Server("teams", cmd, cwd=project.path, env=project.env(), cfg=cfg))
        server.start(cfg.port)
        if not server.wait_ready(f"{cfg.fw_url}/api/v1/notes?limit=1", token):
            raise BenchError(f"the server did not become ready; see {server.log}")
        wanted = {
            "shared:get": ("paths", str(files["shared"])),
            "owned:get": ("paths", str(files["owned"])),
            "shared:list": ("path", f"/api/v1/projects?limit={LIMIT}"),
            "owned:list": ("path", f"/api/v1/notes?limit={LIMIT}"),
        }
        loads = {
            variant: Load(VARIANTS[variant], cfg.fw_url, cfg.fw_lua, mode, arg, token)
            for variant, (mode, arg) in wanted.items()
        }
        say(f"== {len(shared_ids)} projects and {len(owned_ids)} notes of the bench user;")
        say(f"   {cfg.runs} x {cfg.duration}s per variant, interleaved, conns={cfg.conns}")
        for load in loads.values():
            if cfg.warmup > 0:
                load.run(cfg.warmup, cfg.conns)
        for _ in range(cfg.runs):
            for variant, load in loads.items():
                result = load.run(cfg.duration, cfg.conns)
                runs[variant].append(result)
                say(f"   {variant:<12} {run_line(result)}")
    finally:
        servers.stop_all()
    rps = {variant: statistics.median(r["rps"] for r in done) for variant, done in runs.items()}
    errors = sum(r["errors"] for done in runs.values() for r in done)
    say()
    say(f"median req/s of {cfg.runs} x {cfg.duration}s, conns={cfg.conns}:")
    say()
    say("| request | shared (projects) | owned (notes) | shared / owned |")
    say("|---|---:|---:|---:|")
    for kind in ("get", "list"):
        shared, owned = rps[f"shared:{kind}"], rps[f"owned:{kind}"]
        say(f"| {kind} | {shared:,.0f} | {owned:,.0f} | {shared / owned:.2f} |")
    data = {
        "mode": "teams",
        **environment(cfg),
        "users": users,
        "containers": containers,
        "members": members,
        "runs": runs,
        "rps": rps,
        "errors_total": errors,
    }
    write_json(cfg.results / "teams.json", data)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

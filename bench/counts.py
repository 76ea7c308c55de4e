"""A GET of one row that answers a count (`comment_count`, counted in the row's own statement)
against the same GET of the same row without one, interleaved run by run on one server and one
PostgreSQL (issue 21's "Speed"). Run by bench/counts.sh, which says how.

The project is a copy of this checkout with bench/counts/FEAT-003-cards.md added by `featwright
add`: cards (with `comment_count | int | auto | count(Comment.card_id)`), notes (the same fields,
no count) and comments. One user owns ROWS cards and ROWS notes, made by bulk SQL, and
COMMENTS comments on every card; the GETs read the middle card and the middle note.
"""

import sys
from typing import Any

from relations import Project, knob, run_sql, token_of

from bench import (
    BenchError,
    Config,
    Load,
    Server,
    Servers,
    environment,
    http,
    medians,
    psql,
    run,
    run_line,
    say,
    write_json,
)

DOCS = ("FEAT-003-cards.md",)
USER = "00000000-0000-4000-8000-00000000b0b0"
SEED_SQL = """
SET client_min_messages = warning;
TRUNCATE users CASCADE;
INSERT INTO users (id, email, name, hashed_password, is_superuser, created_at, updated_at)
  VALUES ('{user}', 'bench@example.com', 'bench', '!', false, now(), now());
INSERT INTO cards (id, owner_id, title, created_at, updated_at, version)
  SELECT gen_random_uuid(), '{user}', 'card ' || n, ts, ts, 1
  FROM (SELECT n, timestamptz '2024-01-01' + n * interval '1 ms' AS ts
        FROM generate_series(1, {rows}) n) s;
INSERT INTO notes (id, owner_id, title, created_at, updated_at, version)
  SELECT gen_random_uuid(), '{user}', 'card ' || n, ts, ts, 1
  FROM (SELECT n, timestamptz '2024-01-01' + n * interval '1 ms' AS ts
        FROM generate_series(1, {rows}) n) s;
INSERT INTO comments (id, owner_id, card_id, body, created_at, updated_at, version)
  SELECT gen_random_uuid(), '{user}', c.id, 'comment ' || k, c.created_at, c.created_at, 1
  FROM cards c CROSS JOIN generate_series(1, {comments}) k;
VACUUM ANALYZE;
"""
VARIANTS = {"with a count": "cards", "without": "notes"}


def middle(cfg: Config, project: Project, table: str) -> str:
    middle_row = "SELECT id FROM {0} ORDER BY created_at, id OFFSET (SELECT count(*) / 2 FROM {0})"
    query = middle_row.format(table) + " LIMIT 1"  # a table of VARIANTS, not input
    found = psql(cfg, query, db=project.db).split()
    if not found:
        raise BenchError(f"no row in {table}")
    return found[0]


def main() -> int:
    cfg = Config.from_env()
    rows, comments = knob("ROWS", 10_000), knob("COMMENTS", 10)
    project = Project(cfg, name="counts", docs=DOCS)
    servers = Servers()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    try:
        say("bench: copying this checkout, adding bench/counts/FEAT-003-cards.md")
        project.copy("")
        psql(cfg, f"DROP DATABASE IF EXISTS {project.db} WITH (FORCE)")
        psql(cfg, f"CREATE DATABASE {project.db}")
        run(project.cli("db", "upgrade"), cwd=project.path, env=project.env(), what="upgrade")
        say(f"bench: seeding {rows} cards with {comments} comments each, {rows} notes")
        run_sql(cfg, project, SEED_SQL.format(user=USER, rows=rows, comments=comments))
        token = token_of(project, USER)
        cmd = project.cli(*f"serve --host 127.0.0.1 --port {cfg.port} --no-access-log".split())
        server = servers.add(Server("counts", cmd, cwd=project.path, env=project.env(), cfg=cfg))
        server.start(cfg.port)
        loads = {}
        for name, table in VARIANTS.items():
            path = f"/api/v1/{table}/{middle(cfg, project, table)}"
            if not server.wait_ready(f"{cfg.fw_url}{path}", token):
                raise BenchError(f"the server did not become ready; see {server.log}")
            status, body = http("GET", f"{cfg.fw_url}{path}", token)
            if status != 200 or (table == "cards" and body["comment_count"] != comments):
                raise BenchError(f"{path} answered {status}: {body}")
            loads[name] = Load(f"GET {path}", cfg.fw_url, cfg.fw_lua, "path", path, token)
        for load in loads.values():
            load.run(cfg.warmup, cfg.conns)
        say(f"== {cfg.runs} x {cfg.duration}s per variant, interleaved, conns={cfg.conns}")
        for number in range(cfg.runs):
            for name, load in loads.items():
                runs[name].append(load.run(cfg.duration, cfg.conns))
                say(f"   run {number + 1} {name:<13} {run_line(runs[name][-1])}")
    finally:
        servers.stop_all()
    ratios = [
        counted["rps"] / plain["rps"]
        for counted, plain in zip(runs["with a count"], runs["without"], strict=True)
    ]
    counted, plain = ({**medians(runs[name]), "errors": 0} for name in VARIANTS)
    ratio = sorted(ratios)[len(ratios) // 2]
    say()
    say(f"GET of one row, {comments} comments counted (median of {cfg.runs} interleaved runs):")
    say(f"   with comment_count {run_line(counted)}")
    say(f"   without            {run_line(plain)}")
    say(f"   req/s ratio, run by run: {', '.join(f'{r:.2f}' for r in ratios)}; median {ratio:.2f}")
    errors = sum(r["errors"] for variant in runs.values() for r in variant)
    say(f"   errors: {errors}")
    data = {
        "mode": "counts",
        **environment(cfg),
        "settings": {"rows": rows, "comments": comments, "runs": cfg.runs},
        "results": {name: {"runs": runs[name], "median": medians(runs[name])} for name in runs},
        "ratio": ratio,
        "errors_total": errors,
    }
    write_json(cfg.results / "counts.json", data)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

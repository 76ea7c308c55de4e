"""Lists people query, as tables grow: page 1 p50/p99 of the default order, each `sort` key, each
range filter and a `q` search, and a deep page by cursor under a sort, at each size in SIZES.
Run by `SCALE=1 make bench` (bench/run.sh scale) after the plain lists, or alone:

    SIZES="10000 1000000" bench/queries.sh

The project is a copy of this checkout with bench/queries/FEAT-003-issues.md added by `featwright
add`; one user owns the issues, made by bulk SQL: priority 1-5 in turn, a due date spread over
1,000 days (a tenth without one), a cost, a status, a third with a description, and titles of
a word and 8 hex digits. The word is `zebra` in 40 rows at every size (a rare term: the same
page and matches at 10k and 1M, so only the table's size differs), `lynx` in 1% of the rows (a
common one, whose matches grow with the table; shown, no bar), else one of four others.
"""

import sys
from typing import Any

from relations import Project, deep_path, measure, run_sql, token_of

from bench import (
    LIMIT,
    BenchError,
    Config,
    Server,
    Servers,
    chart,
    environment,
    http,
    psql,
    run,
    say,
    write_json,
)

DOCS = ("FEAT-003-issues.md",)
USER = "00000000-0000-4000-8000-00000000b0b0"
SEED_SQL = """
SET client_min_messages = warning;
TRUNCATE users CASCADE;
INSERT INTO users (id, email, name, hashed_password, is_superuser, created_at, updated_at)
  VALUES ('{user}', 'bench@example.com', 'bench', '!', false, now(), now());
INSERT INTO issues (id, owner_id, title, description, priority, due_date, status, cost,
                    created_at, updated_at, version)
  SELECT gen_random_uuid(), '{user}',
         CASE WHEN n % ({rows} / 40) = 0 THEN 'zebra'
              WHEN n % 100 = 1 THEN 'lynx'
              ELSE (ARRAY['fix', 'add', 'drop', 'move'])[1 + n % 4]
         END || ' ' || substr(md5(n::text), 1, 8),
         CASE WHEN n % 3 = 0 THEN 'notes ' || substr(md5((n * 7)::text), 1, 12) END,
         1 + n % 5,
         CASE WHEN n % 10 <> 0 THEN date '2026-01-01' + (n * 37) % 1000 END,
         (ARRAY['open', 'doing', 'done'])[1 + n % 3],
         ((n * 13) % 100000) / 100.0,
         ts, ts, 1
  FROM (SELECT n, timestamptz '2024-01-01' + n * interval '1 ms' AS ts
        FROM generate_series(1, {rows}) n) s;
VACUUM ANALYZE;
"""
FIRST = "/api/v1/issues"
VARIANTS = {  # name -> the query of page 1 (limit 20), what it is
    "default": ("", "the default order (-created_at)"),
    "sort:-priority": ("sort=-priority", "sort=-priority"),
    "sort:-due_date": ("sort=-due_date", "sort=-due_date (nulls first)"),
    "sort:title": ("sort=title", "sort=title"),
    "range:priority": ("priority__gte=5", "priority__gte=5 (a fifth of the rows)"),
    "range:due_date": ("due_date__lt=2026-01-11", "due_date__lt (1% of the rows)"),
    "range:cost": ("cost__gte=999.00", "cost__gte (0.1% of the rows)"),
    "q:rare": ("q=zebr", "q of 4 characters, 40 rows at any size"),
    "q:common": ("q=lynx", "q of 4 characters, 1% of the rows (no bar)"),
    "sort:two-keys": ("sort=-priority,due_date", "sort=-priority,due_date: not indexed (no bar)"),
}
UNBOUND = ("q:common", "sort:two-keys")
"""Shown for what they cost, without the bar: a term whose matches grow with the table, and a
sort of two keys (its first key's index gives the order of groups, each group is sorted)."""
DEEP = "sort=-priority"
"""The sort whose middle page is read by cursor, against its page 1."""
BOUND = 2.0
"""Page 1 at the largest size within this factor of the smallest (the issue's bar)."""
DEEP_BOUND = 1.2


def main() -> int:
    cfg = Config.from_env()
    project = Project(cfg, name="queries", docs=DOCS)
    servers = Servers()
    results: list[dict[str, Any]] = []
    errors = 0
    try:
        say("bench: copying this checkout, adding bench/queries/FEAT-003-issues.md")
        project.copy("")
        psql(cfg, f"DROP DATABASE IF EXISTS {project.db} WITH (FORCE)")
        psql(cfg, f"CREATE DATABASE {project.db}")
        run(project.cli("db", "upgrade"), cwd=project.path, env=project.env(), what="upgrade")
        server: Server | None = None
        for size in cfg.sizes:
            say(f"bench: seeding {size} issues")
            run_sql(cfg, project, SEED_SQL.format(user=USER, rows=size))
            token = token_of(project, USER)
            if server is None:
                cmd = project.cli(
                    *f"serve --host 127.0.0.1 --port {cfg.port} --no-access-log".split()
                )
                server = servers.add(
                    Server("queries", cmd, cwd=project.path, env=project.env(), cfg=cfg)
                )
                server.start(cfg.port)
                if not server.wait_ready(f"{cfg.fw_url}{FIRST}?limit=1", token):
                    raise BenchError(f"the server did not become ready; see {server.log}")
            paths = {
                name: (f"{FIRST}?limit={LIMIT}{'&' + query if query else ''}", why)
                for name, (query, why) in VARIANTS.items()
            }
            paths[f"{DEEP}:deep"] = deep_path(cfg, token, f"{FIRST}?{DEEP}", size)
            say(f"== {size} issues; {cfg.runs} x {cfg.duration}s per variant, conns={cfg.conns}")
            for variant, (path, why) in paths.items():
                if path is None:
                    say(f"   {variant:<16} skipped: {why}")
                    continue
                status, body = http("GET", f"{cfg.fw_url}{path}", token)
                if status != 200:
                    raise BenchError(f"{path} answered {status}: {body}")
                runs, median, errs = measure(cfg, token, variant, path, why)
                errors += errs
                results.append(
                    {
                        "rows": size,
                        "variant": variant,
                        "label": why,
                        "request": path,
                        "items": len(body["items"]),
                        "runs": runs,
                        "median": median,
                        "errors": errs,
                    }
                )
    finally:
        servers.stop_all()
    verdicts = report(cfg, results)
    data = {
        "mode": "queries",
        **environment(cfg),
        "settings": {
            "sizes": cfg.sizes,
            "runs": cfg.runs,
            "duration_s": cfg.duration,
            "conns": cfg.conns,
            "limit": LIMIT,
            "bound": BOUND,
            "deep_bound": DEEP_BOUND,
        },
        "results": results,
        "verdicts": verdicts,
        "errors_total": errors,
    }
    out = cfg.results / "queries.json"
    write_json(out, data)
    drawn = chart(cfg, "queries", out, "query-scaling.png")
    return 1 if errors or not drawn else 0


def report(cfg: Config, results: list[dict[str, Any]]) -> dict[str, Any]:
    """The table: p50 at each size, the largest's over the smallest's (page 1), the deep
    page's over page 1 of its sort (per size)."""

    def p50(size: int, variant: str) -> float | None:
        hit = next((r for r in results if r["rows"] == size and r["variant"] == variant), None)
        return None if hit is None else float(hit["median"]["p50_ms"])

    small, large = min(cfg.sizes), max(cfg.sizes)
    say()
    say(f"p50 ms, page 1 of {LIMIT} (median of {cfg.runs} x {cfg.duration}s, conns={cfg.conns}):")
    say()
    sizes = " | ".join(f"{size:,} rows" for size in cfg.sizes)
    say(f"| list | {sizes} | {large:,} / {small:,} |")
    say("|---|" + "---:|" * (len(cfg.sizes) + 1))
    verdicts: dict[str, Any] = {}
    for variant, (_, why) in VARIANTS.items():
        cells = [p50(size, variant) for size in cfg.sizes]
        low, high = p50(small, variant), p50(large, variant)
        ratio = high / low if low and high else None
        if variant not in UNBOUND:
            verdicts[variant] = ratio
        shown = " | ".join("-" if c is None else f"{c:.1f}" for c in cells)
        say(f"| {why} | {shown} | {'-' if ratio is None else f'{ratio:.2f}x'} |")
    say()
    for size in cfg.sizes:
        deep, first = p50(size, f"{DEEP}:deep"), p50(size, "sort:-priority")
        ratio = deep / first if deep and first else None
        verdicts[f"deep@{size}"] = ratio
        if ratio is not None:
            say(
                f"{size:,} rows: the middle page by cursor under {DEEP}: {deep:.1f} ms p50,"
                f" {ratio:.2f}x its page 1"
            )
    return verdicts


if __name__ == "__main__":
    sys.exit(main())

"""Relation lists as tables grow: a nested list and a list filtered by a `refs` field, page 1 and
a deep page by cursor, at each size in SIZES (p50/p99). Run by bench/relations.sh, which says how.

The project is a copy (of SOURCE, a git revision, or this checkout's files) with the docs of
bench/relations/ added by `featwright add`: labels, and cards under projects with a `refs` field
to labels. One user owns PARENTS projects, LABELS labels and the cards, spread evenly over the
projects, each card with 0-3 labels (a quarter each), made by bulk SQL.
"""

import os
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from bench import (
    HOST,
    LIMIT,
    PG_PORT,
    BenchError,
    Config,
    Load,
    Server,
    Servers,
    environment,
    http,
    medians,
    mid_page,
    psql,
    run,
    run_line,
    say,
    write_json,
)

DOCS = ("FEAT-003-labels.md", "FEAT-004-cards.md")
VARIANTS = {
    "nested:first": "nested list, page 1",
    "nested:deep": "nested list, middle page by cursor",
    "labels:first": "?labels=<id>, page 1",
    "labels:deep": "?labels=<id>, middle page by cursor",
}

# Cards a millisecond apart, round-robin over the projects; card n has n % 4 labels, the k-th
# of them label (n * 7 + k * 3) % LABELS (distinct for k < 4), so every label is on about
# 1.5 / LABELS of the cards.
SEED_SQL = """
SET client_min_messages = warning;
TRUNCATE users CASCADE;
INSERT INTO users (id, email, name, hashed_password, is_superuser, created_at, updated_at)
  VALUES ('{user}', 'bench@example.com', 'bench', '!', false, now(), now());
INSERT INTO projects (id, owner_id, name, description, status, created_at, updated_at, version)
  SELECT gen_random_uuid(), '{user}', 'project-' || n, NULL, 'active', ts, ts, 1
  FROM (SELECT n, timestamptz '2024-01-01' + n * interval '1 ms' AS ts
        FROM generate_series(1, {parents}) n) s;
INSERT INTO labels (id, owner_id, name, created_at, updated_at, version)
  SELECT gen_random_uuid(), '{user}', 'label-' || n, ts, ts, 1
  FROM (SELECT n, timestamptz '2024-01-01' + n * interval '1 ms' AS ts
        FROM generate_series(1, {labels}) n) s;
CREATE TEMP TABLE parent AS
  SELECT id, row_number() OVER (ORDER BY created_at) - 1 AS k FROM projects;
CREATE TEMP TABLE label AS
  SELECT id, row_number() OVER (ORDER BY created_at) - 1 AS k FROM labels;
CREATE TEMP TABLE card AS
  SELECT gen_random_uuid() AS id, n FROM generate_series(1, {rows}) n;
INSERT INTO cards (id, owner_id, project_id, title, created_at, updated_at, version)
  SELECT c.id, '{user}', p.id, 'card-' || c.n,
         timestamptz '2024-02-01' + c.n * interval '1 ms',
         timestamptz '2024-02-01' + c.n * interval '1 ms', 1
  FROM card c JOIN parent p ON p.k = c.n % {parents};
{links}
VACUUM ANALYZE;
"""
LINKS_SQL = """
INSERT INTO card_labels (card_id, label_id, position)
  SELECT c.id, l.id, j FROM card c
  CROSS JOIN generate_series(0, 2) j
  JOIN label l ON l.k = (c.n * 7 + j * 3) % {labels}
  WHERE j < c.n % 4;
"""
TOKEN_PY = (
    "import sys, uuid\n"
    "from src.core.config import get_settings\n"
    "from src.core.security import Principal, TokenService\n"
    "tokens = TokenService.from_settings(get_settings())\n"
    "print(tokens.issue(Principal(id=uuid.UUID(sys.argv[1]))))\n"
)


def knob(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


class Project:
    """The copy the docs (`docs` of the folder `bench/<name>`) are added to, its database
    (`featwright_<name>`), and how to run its CLI."""

    def __init__(
        self,
        cfg: Config,
        nested: bool = True,
        refs: bool = True,
        name: str = "relations",
        docs: tuple[str, ...] = DOCS,
    ) -> None:
        self.cfg, self.nested, self.refs = cfg, nested, refs
        self.name, self.docs, self.db = name, docs, f"featwright_{name}"
        self.path = cfg.work / f"{name}-project"
        self.python = cfg.root / ".venv/bin/python"

    def env(self) -> dict[str, str]:
        return self.cfg.fw_env() | {
            "DATABASE_URL": f"postgresql+asyncpg://bench@{HOST}:{PG_PORT}/{self.db}",
            "PYTHONPATH": str(self.path),
        }

    def cli(self, *args: str) -> list[str]:
        return [str(self.python), "-c", "from src.cli import app; app()", *args]

    def copy(self, source: str) -> None:
        root = self.cfg.root
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)
        if source and not Path(source).is_dir():  # a revision: its tree, as `git archive` gives it
            archive = ["git", "archive", source]  # the operator's own revision
            tar = subprocess.run(archive, cwd=root, capture_output=True, check=True).stdout  # noqa: S603
            subprocess.run(["tar", "-x"], cwd=self.path, input=tar, check=True)  # noqa: S607
        else:  # a checkout's tracked and unignored files, as the engine tests copy them
            root = Path(source or root).resolve()
            listed = run(
                ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                cwd=root,
                what="git ls-files",
            )
            for name in filter(None, listed.split("\0")):
                if (root / name).is_file():
                    (self.path / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(root / name, self.path / name)
        for name in self.docs:
            text = (self.cfg.root / "bench" / self.name / name).read_text(encoding="utf-8")
            (self.path / "docs/features" / name).write_text(self.trimmed(text), encoding="utf-8")
            run(self.cli("add", f"docs/features/{name}"), cwd=self.path, env=self.env(), what="add")

    def trimmed(self, text: str) -> str:
        """The doc without what this run leaves out (NESTED=0, REFS=0: a checkout that lacks
        the construct)."""
        if not self.nested:
            sections = text.split("\n### ")
            text = "\n### ".join(s for s in sections if not s.startswith("GET /api/v1/projects/"))
        if not self.refs:
            text = text.replace("| labels | refs(Label)(..3) | no | - | Its labels |\n", "")
            text = text.replace(", labels (UUID) |", " |")
        return text


def seed(cfg: Config, project: Project, rows: int) -> tuple[str, list[str], list[str]]:
    """(token, project ids, label ids) after `rows` cards are made."""
    user = "00000000-0000-4000-8000-00000000b0b0"
    parents, labels = knob("PARENTS", 100), knob("LABELS", 20)
    say(f"bench: seeding {rows} cards over {parents} projects, {labels} labels")
    sql = SEED_SQL.format(
        user=user,
        parents=parents,
        labels=labels,
        rows=rows,
        links=LINKS_SQL.format(labels=labels) if project.refs else "",
    )
    run_sql(cfg, project, sql)
    pids = psql(cfg, "SELECT id FROM projects ORDER BY created_at, id", db=project.db).split()
    lids = psql(cfg, "SELECT id FROM labels ORDER BY created_at, id", db=project.db).split()
    return token_of(project, user), pids, lids


def token_of(project: Project, user: str) -> str:
    """A Bearer token of `user`, minted by the copy's own code."""
    return run(
        [str(project.python), "-c", TOKEN_PY, user],
        cwd=project.path,
        env=project.env(),
        what="minting a token",
    ).strip()


def run_sql(cfg: Config, project: Project, sql: str) -> None:
    """`sql` run by psql in the copy's database; a failure stops the bench."""
    psql_in = [str(cfg.base_dir / "pg.sh"), "psql", "-d", project.db, "-v", "ON_ERROR_STOP=1"]
    done = subprocess.run(
        [*psql_in, "-f", "-"], cwd=cfg.base_dir, input=sql, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"seeding failed (exit {done.returncode})")


def measure(
    cfg: Config, token: str, variant: str, path: str, why: str
) -> tuple[list[dict[str, Any]], dict[str, Any], int]:
    """wrk on `path` (a warm-up, then `cfg.runs` runs): the runs, their medians and the
    errors, the line said."""
    load = Load(why, cfg.fw_url, cfg.fw_lua, "path", path, token)
    if cfg.warmup > 0:
        load.run(cfg.warmup, cfg.conns)
    runs = [load.run(cfg.duration, cfg.conns) for _ in range(cfg.runs)]
    errs = sum(r["errors"] for r in runs)
    median = medians(runs)
    say(f"   {variant:<16} {run_line({**median, 'errors': errs})}  ({why})")
    return runs, median, errs


def deep_path(cfg: Config, token: str, first: str, rows: int) -> tuple[str | None, str]:
    """(path of the middle page of the list `first` by keyset cursor, note)."""
    url = f"{cfg.fw_url}{first}{'&' if '?' in first else '?'}"
    status, body = http("GET", f"{url}limit=1", token)
    if status != 200:
        return None, f"{first} answered {status}"
    page = mid_page(rows if body["total"] is None else int(body["total"]))
    if page < 2:
        return None, f"{first} has one page"
    status, body = http("GET", f"{url}page={page - 1}&limit={LIMIT}", token)
    cursor = body.get("next_cursor") if status == 200 and isinstance(body, dict) else None
    if not cursor:
        return None, f"page {page - 1} of {first} has no next_cursor ({status})"
    path = f"{url}limit={LIMIT}&cursor={urllib.parse.quote(cursor, safe='')}"
    return path.removeprefix(cfg.fw_url), f"page {page} by cursor"


def main() -> int:
    cfg = Config.from_env()
    nested, refs = knob("NESTED", 1) == 1, knob("REFS", 1) == 1
    project = Project(cfg, nested, refs)
    servers = Servers()
    results: list[dict[str, Any]] = []
    errors = 0
    try:
        say(f"bench: copying {os.environ.get('SOURCE') or 'this checkout'}, adding the docs")
        project.copy(os.environ.get("SOURCE", ""))
        psql(cfg, f"DROP DATABASE IF EXISTS {project.db} WITH (FORCE)")
        psql(cfg, f"CREATE DATABASE {project.db}")
        run(project.cli("db", "upgrade"), cwd=project.path, env=project.env(), what="upgrade")
        server: Server | None = None
        for size in cfg.sizes:
            token, pids, lids = seed(cfg, project, size)
            if server is None:
                cmd = project.cli(*f"serve --host {HOST} --port {cfg.port} --no-access-log".split())
                server = servers.add(
                    Server("relations", cmd, cwd=project.path, env=project.env(), cfg=cfg)
                )
                server.start(cfg.port)
                if not server.wait_ready(f"{cfg.fw_url}/api/v1/labels?limit=1", token):
                    raise BenchError(f"the server did not become ready; see {server.log}")
            firsts = {
                "nested": (f"/api/v1/projects/{pids[len(pids) // 2]}/cards", nested),
                "labels": (f"/api/v1/cards?labels={lids[len(lids) // 2]}", refs),
            }
            say(f"== {size} cards; {cfg.runs} x {cfg.duration}s per variant, conns={cfg.conns}")
            for kind, (first, wanted) in firsts.items():
                if not wanted:
                    continue
                sep = "&" if "?" in first else "?"
                paths = {
                    f"{kind}:first": (f"{first}{sep}limit={LIMIT}", "page 1"),
                    f"{kind}:deep": deep_path(cfg, token, first, size),
                }
                for variant, (path, why) in paths.items():
                    if path is None:
                        say(f"   {variant:<13} skipped: {why}")
                        continue
                    runs, median, errs = measure(cfg, token, variant, path, why)
                    errors += errs
                    results.append(
                        {
                            "rows": size,
                            "variant": variant,
                            "request": path,
                            "runs": runs,
                            "median": median,
                            "errors": errs,
                        }
                    )
    finally:
        servers.stop_all()
    say()
    say(f"p50 / p99 ms (median of {cfg.runs} x {cfg.duration}s, conns={cfg.conns}):")
    say()
    say("| cards | " + " | ".join(VARIANTS.values()) + " |")
    say("|---:|" + "---:|" * len(VARIANTS))
    for size in cfg.sizes:
        cells = []
        for variant in VARIANTS:
            hit = next((r for r in results if r["rows"] == size and r["variant"] == variant), None)
            m = hit["median"] if hit else None
            cells.append(f"{m['p50_ms']:.1f} / {m['p99_ms']:.1f}" if m else "-")
        say(f"| {size:,} | " + " | ".join(cells) + " |")
    data = {"mode": "relations", **environment(cfg), "results": results, "errors_total": errors}
    write_json(cfg.results / "relations.json", data)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

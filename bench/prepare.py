"""Seed a benchmark database with one user owning ROWS projects; print a token for them.

    DATABASE_URL=postgresql+asyncpg://bench@127.0.0.1:55432/featwright_bench \\
        .venv/bin/python bench/prepare.py --rows 100000 --ids-out /tmp/ids.txt

Runs against DATABASE_URL (already migrated: `featwright db upgrade`). Empties the users
table (and, by cascade, everything they own) first, so it can be run again with another
row count. Rows are made by `featwright db seed`'s SQL (src/repositories/seed_repo.py):
distinct, increasing created_at values, as in the baseline's seed.py; then VACUUM ANALYZE.
Writes a random sample of project ids (for GET/PUT by id) to --ids-out; prints only the
bearer token on stdout (progress goes to stderr). The token's
lifetime is ACCESS_TOKEN_EXPIRE_MINUTES, so set that above the length of the run.
"""

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from src.core.config import get_settings
from src.core.database import create_engine
from src.core.security import Principal, TokenService
from src.repositories.seed_repo import seed_projects

BATCH = 250_000
SEEDED_FROM = datetime(2024, 1, 1, tzinfo=UTC)

# TABLESAMPLE keeps this cheap on big tables; oversample 3x, then shuffle, so the
# sample is not biased towards the start of the heap (as the baseline's seed.py does).
SAMPLE_SQL = (
    "SELECT id FROM (SELECT id FROM projects TABLESAMPLE BERNOULLI ({pct:.6f})) s"
    " ORDER BY random() LIMIT $1"
)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--ids-out", type=Path, required=True)
    parser.add_argument("--ids-count", type=int, default=10_000)
    args = parser.parse_args()

    settings = get_settings()
    dsn = make_url(settings.database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    started = time.perf_counter()
    try:
        user_id = uuid.uuid4()
        await connection.execute("TRUNCATE users CASCADE")
        await connection.execute(
            "INSERT INTO users"
            " (id, email, name, hashed_password, is_superuser, created_at, updated_at)"
            " VALUES ($1, 'bench@example.com', 'bench', '!', false, now(), now())",
            user_id,
        )
        engine = create_engine(settings)
        try:  # the rows `featwright db seed` makes
            for low in range(1, args.rows + 1, BATCH):
                high = min(low + BATCH - 1, args.rows)
                await seed_projects(engine, user_id, low, high, SEEDED_FROM)
        finally:
            await engine.dispose()
        await connection.execute("VACUUM ANALYZE projects")
        count = min(args.ids_count, args.rows)
        pct = min(100.0, 100.0 * 3 * count / max(args.rows, 1))
        ids = await connection.fetch(SAMPLE_SQL.format(pct=pct), count)
    finally:
        await connection.close()
    args.ids_out.parent.mkdir(parents=True, exist_ok=True)
    args.ids_out.write_text("".join(f"{row['id']}\n" for row in ids))
    print(
        f"prepare: {args.rows} projects in {time.perf_counter() - started:.1f}s,"
        f" {len(ids)} sample ids in {args.ids_out}",
        file=sys.stderr,
    )
    tokens = TokenService.from_settings(settings)
    print(tokens.issue(Principal(id=user_id)))


if __name__ == "__main__":
    asyncio.run(main())

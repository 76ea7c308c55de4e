"""Seed a benchmark database with one user owning ROWS projects; print a token for them.

    python bench/prepare.py --rows 100000 --ids-out results/ids.txt

Runs against DATABASE_URL (already migrated). Rows get distinct, increasing
created_at values, as in the baseline's seed, then VACUUM ANALYZE.
"""

import argparse
import asyncio
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from src.core.config import get_settings
from src.core.security import Principal, TokenService

SEED_SQL = """
INSERT INTO projects (id, owner_id, name, description, status, created_at, updated_at)
SELECT gen_random_uuid(), $1, 'project-' || g, NULL, 'active', ts, ts
FROM (
    SELECT g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' AS ts
    FROM generate_series(1, $2::bigint) AS g
) s
"""


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--ids-out", type=Path, required=True)
    parser.add_argument("--ids-count", type=int, default=10_000)
    args = parser.parse_args()

    settings = get_settings()
    dsn = make_url(settings.database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        user_id = uuid.uuid4()
        await connection.execute("TRUNCATE users CASCADE")
        await connection.execute(
            "INSERT INTO users (id, email, hashed_password, is_superuser, created_at, updated_at)"
            " VALUES ($1, 'bench@example.com', '!', false, now(), now())",
            user_id,
        )
        await connection.execute(SEED_SQL, user_id, args.rows)
        await connection.execute("VACUUM ANALYZE projects")
        ids = await connection.fetch(
            "SELECT id FROM projects ORDER BY random() LIMIT $1", args.ids_count
        )
    finally:
        await connection.close()
    args.ids_out.parent.mkdir(parents=True, exist_ok=True)
    args.ids_out.write_text("".join(f"{row['id']}\n" for row in ids))
    tokens = TokenService.from_settings(settings)
    print(tokens.issue(Principal(id=user_id)))


if __name__ == "__main__":
    asyncio.run(main())

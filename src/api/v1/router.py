"""Registers every v1 route module; nothing else."""

from src.api.problems import problem_responses
from src.api.routing import Registry
from src.api.v1.routes import auth, projects, tasks, users

EVERY_ROUTE_STATUSES = (431, 503)
"""Any route answers 431 to a request head (its URL too: a list's query) past MAX_HEADER_BYTES,
and 503 while the database is down."""
EVERY_WRITE_STATUSES = (429,)
"""Every write answers 429 past its limit (RATE_LIMIT_WRITES_PER_USER, or the credential
limits of the auth routes)."""

api_router = Registry(
    prefix="/api/v1",
    responses=problem_responses(*EVERY_ROUTE_STATUSES),
    write_responses=problem_responses(*EVERY_WRITE_STATUSES),
)
api_router.include_router(auth.router)
api_router.include_router(users.router)
api_router.include_router(projects.router)
api_router.include_router(tasks.router)

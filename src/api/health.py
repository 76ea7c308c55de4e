"""Liveness (the process answers) and readiness (the database answers)."""

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import literal, select

from src.api.problems import DATABASE_RETRY_AFTER, problem_response
from src.core.config import Settings
from src.core.database import Database
from src.schemas.health import HealthStatus
from src.schemas.problem import Problem

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/health", tags=["health"])
_SELECT_ONE = select(literal(1))


@router.get("/live")
async def live() -> HealthStatus:
    return HealthStatus()


# Probes given up on, cancelled and held until they end: one may still be closing its
# connection to a silent host, which SQLAlchemy allows up to 2 s.
_abandoned: set[asyncio.Task[None]] = set()


@router.get(
    "/ready",
    response_model=HealthStatus,
    responses={503: {"model": Problem, "description": "The database does not answer"}},
)
async def ready(request: Request) -> HealthStatus | JSONResponse:
    """200 when the database answers `SELECT 1`; otherwise, or when it has not answered
    within DB_CONNECT_TIMEOUT seconds, a 503 problem with `Retry-After`. The answer does
    not wait for a probe it gave up on to clean up."""
    settings: Settings = request.app.state.settings
    probe = asyncio.create_task(_select_one(request.app.state.database))
    try:
        await asyncio.wait_for(asyncio.shield(probe), settings.db_connect_timeout)
    except Exception as error:
        logger.warning("not ready: %s: %s", type(error).__name__, str(error).partition("\n")[0])
        return problem_response(503, "The database does not answer", headers=DATABASE_RETRY_AFTER)
    finally:
        if not probe.done():
            probe.cancel()
            _abandoned.add(probe)
            probe.add_done_callback(_abandoned.discard)
    return HealthStatus()


async def _select_one(database: Database) -> None:
    await database.read(_SELECT_ONE, {})

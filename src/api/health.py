"""Liveness (the process answers) and readiness (the database answers)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from src.api.problems import problem_response
from src.core.database import Database
from src.schemas.health import HealthStatus
from src.schemas.problem import Problem

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live")
async def live() -> HealthStatus:
    return HealthStatus()


@router.get(
    "/ready",
    response_model=HealthStatus,
    responses={503: {"model": Problem, "description": "The database does not answer"}},
)
async def ready(request: Request) -> HealthStatus | JSONResponse:
    database: Database = request.app.state.database
    try:
        async with database.session(write=False) as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        return problem_response(503, "The database does not answer")
    return HealthStatus()

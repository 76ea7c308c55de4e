"""Liveness (the process answers) and readiness (the database answers)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from src.api.problems import problem_response
from src.core.database import Database

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=None,
    responses={200: {"description": "Ready"}, 503: {"description": "The database does not answer"}},
)
async def ready(request: Request) -> JSONResponse:
    database: Database = request.app.state.database
    try:
        async with database.session(write=False) as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        return problem_response(503, "The database does not answer")
    return JSONResponse({"status": "ok"})

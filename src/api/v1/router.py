"""Registers every v1 route module; nothing else."""

from fastapi import APIRouter

from src.api.v1.routes import auth, projects, tasks, users

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(auth.router)
api_router.include_router(users.router)
api_router.include_router(projects.router)
api_router.include_router(tasks.router)

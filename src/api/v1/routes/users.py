from fastapi import APIRouter

from src.api.deps import CurrentUser
from src.api.problems import problem_responses
from src.api.v1.routes.auth import Service
from src.models.user import User
from src.schemas.user import UserResponse

router = APIRouter(prefix="/users", tags=["users"], responses=problem_responses(401))


@router.get("/me", response_model=UserResponse)
async def read_me(user: CurrentUser, service: Service) -> User:
    return await service.me(user)

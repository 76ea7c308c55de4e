"""The member routes of a shared container (`Access: shared`), for any model: a feature's
routes module ends with `add_member_routes(router, Project, "project_id")`."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from src.api.deps import CurrentUser, PageDep, database_of
from src.api.problems import problem_responses
from src.core.pagination import Page
from src.models.base import OwnedEntity
from src.repositories.base import Record
from src.repositories.shared import MemberRepository
from src.schemas.base import PaginatedResponse
from src.schemas.member import MemberCreate, MemberResponse, MemberUpdate
from src.services.member_service import MemberService


def add_member_routes(
    router: APIRouter, model: type[OwnedEntity], key: str, prefix: str = ""
) -> None:
    """`GET`, `POST <prefix>/{key}/members` and `PUT`, `DELETE .../members/{user_id}` on
    `router` (the model's own, so they share its tag and prefix)."""
    container_id = Path(alias=key, description=f"The {model.__name__}'s id.")

    async def member_service(
        request: Request, user: CurrentUser, container: Annotated[uuid.UUID, container_id]
    ) -> MemberService:
        members = MemberRepository(
            database_of(request),
            model,
            container=container,
            caller=user.id,
            unrestricted=user.is_superuser,
        )
        return MemberService(members)

    service_of = Depends(member_service)
    members = f"{prefix}/{{{key}}}/members"
    noun = model.__name__.lower()

    @router.get(
        members,
        response_model=PaginatedResponse[MemberResponse],
        responses=problem_responses(400, 404),
        summary=f"List the members of a {noun}",
    )
    async def list_members(
        page: PageDep, service: Annotated[MemberService, service_of]
    ) -> Page[Record]:
        """Any member sees every member, with their email and role."""
        return await service.list(page)

    @router.post(
        members,
        status_code=201,
        response_model=MemberResponse,
        responses=problem_responses(400, 403, 404, 409, 413),
        summary=f"Add a member to a {noun}",
    )
    async def add_member(
        data: MemberCreate, service: Annotated[MemberService, service_of]
    ) -> Record:
        """Admins only. The user must exist (404 `User not found`); a member already is a
        409."""
        return await service.add(data)

    @router.put(
        members + "/{user_id}",
        response_model=MemberResponse,
        responses=problem_responses(400, 403, 404, 409, 413),
        summary=f"Change a member's role in a {noun}",
    )
    async def change_member(
        user_id: uuid.UUID, data: MemberUpdate, service: Annotated[MemberService, service_of]
    ) -> Record:
        """Admins only. The last admin cannot be demoted (409)."""
        return await service.change(user_id, data)

    @router.delete(
        members + "/{user_id}",
        status_code=204,
        response_class=Response,
        responses=problem_responses(400, 403, 404, 409),
        summary=f"Remove a member from a {noun}, or leave it",
    )
    async def remove_member(
        user_id: uuid.UUID, service: Annotated[MemberService, service_of]
    ) -> None:
        """An admin removes anyone; a member removes themselves. The last admin cannot
        leave (409)."""
        await service.remove(user_id)

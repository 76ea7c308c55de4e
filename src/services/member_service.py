"""Managing who is in a shared container: admins add, change and remove members; a
member may leave; a container always keeps one admin."""

import uuid

from src.core.errors import PermissionDenied, ResourceConflict, ResourceNotFound, in_words
from src.core.pagination import Page, PageRequest
from src.models.base import Role
from src.repositories.base import Record
from src.repositories.shared import MemberRepository
from src.schemas.member import MemberCreate, MemberUpdate


class MemberService:
    def __init__(self, members: MemberRepository) -> None:
        self.members = members
        self.resource = in_words(members.model.__name__)

    async def list(self, page: PageRequest) -> Page[Record]:
        """A container has at least one member, so an empty first page says the caller
        may not see it (404); past the last page, whether they may is asked."""
        rows, total = await self.members.list(page)
        if not rows and not await self.members.readable():
            raise ResourceNotFound(self.resource)
        return page.of(rows, total, True)

    async def add(self, data: MemberCreate) -> Record:
        async with self.members.database.transaction():
            await self._as_admin()
            user = await self.members.user_by_email(data.email)
            if user is None:
                raise ResourceNotFound("User")
            if not await self.members.add(user, data.role):
                raise ResourceConflict(f"That user is already a member of this {self._what}")
            return await self._member(user)

    async def change(self, user: uuid.UUID, data: MemberUpdate) -> Record:
        async with self.members.database.transaction():
            await self._as_admin()
            current = await self._member(user)
            if data.role is not Role.ADMIN:
                await self._not_last_admin(current, "demoted")
            await self.members.change(user, data.role)
            return await self._member(user)

    async def remove(self, user: uuid.UUID) -> None:
        """An admin removes a member; any member removes themselves (leaves)."""
        async with self.members.database.transaction():
            if user == self.members.caller:
                await self._as_member()
            else:
                await self._as_admin()
            await self._not_last_admin(await self._member(user), "removed")
            await self.members.remove(user)

    @property
    def _what(self) -> str:
        return self.resource.lower()

    async def _as_member(self) -> Role:
        """The caller's role, the container locked until the change commits; 404 if they
        may not see it. A superuser acts as an admin of every container."""
        found = await self.members.lock()
        if found is None:
            raise ResourceNotFound(self.resource)
        role, superuser = found
        if superuser:
            return Role.ADMIN
        if role is None:
            raise ResourceNotFound(self.resource)
        return role

    async def _as_admin(self) -> None:
        role = await self._as_member()
        if role is not Role.ADMIN:
            raise PermissionDenied(f"Only an admin of this {self._what} can manage its members")

    async def _member(self, user: uuid.UUID) -> Record:
        member = await self.members.member(user)
        if member is None:
            raise ResourceNotFound("Member")
        return member

    async def _not_last_admin(self, member: Record, change: str) -> None:
        if member.role == Role.ADMIN and await self.members.admins() == 1:
            raise ResourceConflict(
                f"The last admin of this {self._what} cannot be {change}; make another"
                " member an admin first"
            )

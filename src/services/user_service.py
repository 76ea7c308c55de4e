"""User accounts as the API shows them: one's own to everyone, all of them to superusers."""

from src.core.errors import AuthenticationFailed, PermissionDenied
from src.core.pagination import Page, PageRequest
from src.core.security import Principal
from src.repositories.base import Record
from src.repositories.user_repo import UserRepository


class UserService:
    def __init__(self, users: UserRepository, *, caller: Principal) -> None:
        self.users = users
        self.caller = caller

    async def me(self) -> Record:
        user = await self.users.get(self.caller.id)
        if user is None:
            raise AuthenticationFailed("The user of this token no longer exists")
        return user

    async def list(self, page: PageRequest) -> Page[Record]:
        """Users are no one's rows, so there is no owner scope to narrow: only a superuser."""
        if not self.caller.is_superuser:
            raise PermissionDenied("Only a superuser can list users")
        return page.of(*await self.users.list(page))

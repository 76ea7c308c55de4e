"""User accounts as the API shows them: one's own to everyone, all of them to superusers."""

from src.core.errors import AuthenticationFailed, PermissionDenied
from src.core.pagination import Page, PageRequest
from src.core.security import Principal
from src.models.user import User
from src.repositories.user_repo import UserRepository


class UserService:
    def __init__(self, users: UserRepository, *, caller: Principal) -> None:
        self.users = users
        self.caller = caller

    async def me(self) -> User:
        user = await self.users.get(self.caller.id)
        if user is None:
            raise AuthenticationFailed("The user of this token no longer exists")
        return user

    async def list(self, page: PageRequest) -> Page[User]:
        """Users are no one's rows, so there is no owner scope to narrow: only a superuser."""
        if not self.caller.is_superuser:
            raise PermissionDenied("Only a superuser can list users")
        rows, total = await self.users.list(page)
        return page.of(rows, total)

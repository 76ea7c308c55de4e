"""User accounts as the API shows them: one's own to everyone, all of them to superusers."""

from src.core.errors import AuthenticationFailed, PermissionDenied
from src.core.pagination import Page, PageRequest
from src.core.security import Principal
from src.repositories.base import Record
from src.repositories.user_repo import UserRepository


class UserService:
    def __init__(self, users: UserRepository, *, caller: Principal) -> None:
        """`users` for the caller's own account; every account is listed through a
        repository that also checks the caller is a superuser (`admin_id`)."""
        self.users = users
        self.caller = caller
        self.directory = UserRepository(users.database, admin_id=caller.id)

    async def me(self) -> Record:
        user = await self.users.get(self.caller.id)
        if user is None:
            raise AuthenticationFailed("The user of this token no longer exists")
        return user

    async def list(self, page: PageRequest) -> Page[Record]:
        """Users are no one's rows, so there is no owner scope to narrow: only a superuser.

        The token's claim only lets the statement run; the statement itself checks the
        caller's row (`UserRepository(admin_id=...)`). A superuser counts themselves, so a
        total of 0 means the row no longer says superuser."""
        denied = PermissionDenied("Only a superuser can list users")
        if not self.caller.is_superuser:
            raise denied
        rows, total, exact = await self.directory.list(page)
        if total == 0:
            raise denied
        return page.of(rows, total, exact)

from sqlalchemy import bindparam, select

from src.models.user import User
from src.repositories.base import Record, Repository


class UserRepository(Repository[User]):
    model = User

    async def get_by_email(self, email: str) -> Record | None:
        statement = self._statement(
            "by_email", lambda: select(*self._columns).where(User.email == bindparam("email"))
        )
        rows = await self._read(statement, {"email": email})
        return rows[0] if rows else None

import uuid
from collections.abc import Hashable, Mapping
from typing import Any

from sqlalchemy import bindparam, select

from src.core.database import Database
from src.models.base import utcnow
from src.models.user import User
from src.repositories.base import (
    Record,
    Repository,
    StatementT,
    dialect_insert,
    is_superuser,
    scalar_defaults,
)


class UserRepository(Repository[User]):
    """Accounts. `admin_id`: every statement also requires that user to be a superuser
    when it runs (listing all accounts), so a demoted admin's token lists nothing."""

    model = User

    def __init__(self, database: Database, *, admin_id: uuid.UUID | None = None) -> None:
        super().__init__(database)
        self.admin_id = admin_id

    def _scope(self, statement: StatementT) -> StatementT:
        if self.admin_id is None:
            return statement
        return statement.where(is_superuser(bindparam("_admin_id", type_=User.id.type)))

    def _scope_key(self) -> Hashable:
        return self.admin_id is not None

    def _params(self, **params: Any) -> dict[str, Any]:
        if self.admin_id is not None:
            params["_admin_id"] = self.admin_id
        return params

    async def get_by_email(self, email: str) -> Record | None:
        statement = self._statement(
            "by_email", lambda: select(*self._columns).where(User.email == bindparam("email"))
        )
        rows = await self._read(statement, {"email": email})
        return rows[0] if rows else None

    async def create_if_new(self, values: Mapping[str, Any]) -> Record | None:
        """One INSERT that does nothing when the email is taken (None then): a new and a
        taken email cost the same, and a race between two registrations cannot fail."""
        row = {**scalar_defaults(User), "id": uuid.uuid4(), **values}
        row.setdefault("updated_at", row.setdefault("created_at", utcnow()))
        columns = tuple(row)

        def build() -> Any:
            statement = dialect_insert(self.database, User).values(
                {name: bindparam(name) for name in columns}
            )
            return statement.on_conflict_do_nothing(index_elements=[User.email]).returning(
                *self._columns
            )

        return await self._one(self._statement(("create_if_new", columns), build), row)

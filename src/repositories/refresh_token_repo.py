"""Refresh tokens, by digest. Never commits: the service runs a rotation (lock the session,
mark the old token used, add the next) and an ending (the session's first token, then the
rest) each inside one `Database.transaction()`.

A session (family) is anchored on its first token, whose id is the family id. Rotation
locks the anchor before it writes, and ending a session revokes the anchor first, so the
two cannot interleave: on PostgreSQL (READ COMMITTED) an UPDATE that waited on a rotation
would not see the token that rotation added, so the ending revokes the anchor, waiting for
any rotation in flight, and only then the rest, in a statement that sees its new token.
SQLite's writers are serialized anyway (BEGIN IMMEDIATE).

Not a resource, so not an `OwnedRepository`: a token is found by its digest, which only
its holder can compute."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from src.core.database import Database
from src.models.refresh_token import RefreshToken
from src.models.user import User

_table = RefreshToken.__table__
_now = bindparam("now", type_=RefreshToken.created_at.type)
_ADD = insert(RefreshToken)
# Marks a live token used and says whose it is, as the user's row says now.
_USE = (
    update(RefreshToken)
    .where(
        RefreshToken.digest == bindparam("_digest"),
        RefreshToken.used_at.is_(None),
        RefreshToken.revoked_at.is_(None),
        RefreshToken.expires_at > _now,
    )
    .values(used_at=_now)
    .returning(
        RefreshToken.user_id,
        RefreshToken.family_id,
        select(User.is_superuser)
        .where(User.id == RefreshToken.user_id)
        .scalar_subquery()
        .label("is_superuser"),
    )
)
_FAMILY = (
    select(_table.c.family_id).where(_table.c.digest == bindparam("_digest")).scalar_subquery()
)
_LOCK_SESSION = (
    select(RefreshToken.id)
    .where(RefreshToken.id == _FAMILY, RefreshToken.revoked_at.is_(None))
    .with_for_update()
)
_END_SESSION = (
    update(RefreshToken)
    .where(RefreshToken.id == _FAMILY, RefreshToken.revoked_at.is_(None))
    .values(revoked_at=_now)
    .returning(RefreshToken.id)
)
_END_SESSIONS_OF_USER = (
    update(RefreshToken)
    .where(
        RefreshToken.user_id == bindparam("_user_id"),
        RefreshToken.id == RefreshToken.family_id,
        RefreshToken.revoked_at.is_(None),
    )
    .values(revoked_at=_now)
    .returning(RefreshToken.id)
)
_USED = select(RefreshToken.user_id).where(
    RefreshToken.digest == bindparam("_digest"), RefreshToken.used_at.is_not(None)
)
_REVOKE_FAMILY = (
    update(RefreshToken)
    .where(
        RefreshToken.family_id == _FAMILY,
        RefreshToken.revoked_at.is_(None),
    )
    .values(revoked_at=_now)
    .returning(RefreshToken.id)
)
_REVOKE_USER = (
    update(RefreshToken)
    .where(RefreshToken.user_id == bindparam("_user_id"), RefreshToken.revoked_at.is_(None))
    .values(revoked_at=_now)
    .returning(RefreshToken.id)
)
_PURGE = delete(RefreshToken).where(RefreshToken.expires_at <= _now).returning(RefreshToken.id)


@dataclass(frozen=True, slots=True)
class TokenOwner:
    user_id: uuid.UUID
    family_id: uuid.UUID
    is_superuser: bool


class RefreshTokenRepository:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def add(self, **values: Any) -> None:
        """A session's first token takes the family's id (its anchor); later ones their own."""
        row = {"id": uuid.uuid4(), "used_at": None, "revoked_at": None, **values}
        await self.database.write(_ADD, row)

    async def lock_session(self, digest: str) -> bool:
        """Lock the session of this token until the transaction ends; False if it ended."""
        return bool(await self.database.read(_LOCK_SESSION, {"_digest": digest}))

    async def use(self, digest: str, now: datetime) -> TokenOwner | None:
        """Mark the token used if it is live; None if it is unknown, used, revoked or expired."""
        row = await self.database.write(_USE, {"_digest": digest, "now": now})
        if row is None:
            return None
        return TokenOwner(row.user_id, row.family_id, bool(row.is_superuser))

    async def used_by(self, digest: str) -> uuid.UUID | None:
        """The user of this token if it was rotated already (and is presented again)."""
        rows = await self.database.read(_USED, {"_digest": digest})
        return rows[0].user_id if rows else None

    async def revoke_family(self, digest: str, now: datetime) -> bool:
        """Revoke every token of the session `digest` belongs to; whether one was live."""
        return (
            await self.database.write(_REVOKE_FAMILY, {"_digest": digest, "now": now}) is not None
        )

    async def revoke_user(self, user_id: uuid.UUID, now: datetime) -> bool:
        """Revoke every session of the user; whether one was live."""
        return (
            await self.database.write(_REVOKE_USER, {"_user_id": user_id, "now": now}) is not None
        )


async def purge_expired(database: Database, now: datetime) -> int:
    return len(await database.read(_PURGE, {"now": now}))

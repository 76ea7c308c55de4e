"""Accounts and sessions: registration, login, refresh-token rotation, logout, changes to
one's account (name, password). Raises domain errors, never HTTP."""

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from src.core.errors import AuthenticationFailed, InvalidField
from src.core.security import (
    Principal,
    TokenService,
    hash_password,
    new_refresh_token,
    password_problem,
    refresh_token_digest,
    verify_password,
)
from src.repositories.base import Record
from src.repositories.refresh_token_repo import RefreshTokenRepository
from src.repositories.user_repo import UserRepository
from src.schemas.user import PasswordChange, TokenResponse, UserCreate

Clock = Callable[[], datetime]


class RefreshTokenReused(AuthenticationFailed):
    """A refresh token was presented after it had been used: a copy is in other hands."""

    def __init__(self, user_id: uuid.UUID) -> None:
        super().__init__("Refresh token already used; the session is ended")
        self.user_id = user_id


async def register(
    users: UserRepository, data: UserCreate, *, is_superuser: bool = False
) -> Record | None:
    """The new user, or None when the email is taken. Both cost one hash and one
    statement, so neither the answer nor its timing tells them apart."""
    await _hard_to_guess("password", data.password, data.email)
    values = {
        "email": data.email,
        "name": data.display_name(),
        "hashed_password": await hash_password(data.password),
        "is_superuser": is_superuser,
    }
    return await users.create_if_new(values)


async def _hard_to_guess(field: str, password: str, email: str) -> None:
    problem = await password_problem(password, email)
    if problem:
        raise InvalidField(field, "weak_password", f"Password {problem}")


class AuthService:
    def __init__(
        self,
        users: UserRepository,
        refresh_tokens: RefreshTokenRepository,
        tokens: TokenService,
        *,
        refresh_ttl: timedelta,
        clock: Clock,
    ) -> None:
        self.users = users
        self.refresh_tokens = refresh_tokens
        self.tokens = tokens
        self.refresh_ttl = refresh_ttl
        self.clock = clock

    async def register(self, data: UserCreate) -> Record | None:
        return await register(self.users, data)

    async def login(self, email: str, password: str) -> TokenResponse:
        # The connection is back in the pool before the deliberately slow hash check.
        user = await self.users.get_by_email(email)
        if not await verify_password(password, user.hashed_password if user else None) or not user:
            raise AuthenticationFailed("Incorrect email or password")
        return await self._session(
            user.id, user.is_superuser, family_id=uuid.uuid4(), rotated=False
        )

    async def refresh(self, refresh_token: str) -> TokenResponse:
        """Rotate: the token is used up and the next one joins its session, in one
        transaction. A used token presented again revokes the whole session."""
        digest = refresh_token_digest(refresh_token)
        async with self.refresh_tokens.database.transaction():
            if await self.refresh_tokens.lock_session(digest):
                owner = await self.refresh_tokens.use(digest, self.clock())
                if owner is not None:
                    return await self._session(
                        owner.user_id, owner.is_superuser, family_id=owner.family_id, rotated=True
                    )
        # Outside the rotation's transaction: the ending stands although the request fails.
        user_id = await self.refresh_tokens.used_by(digest)
        if user_id is not None:
            await self._end_session(digest)
            raise RefreshTokenReused(user_id)
        raise AuthenticationFailed("Invalid, expired or revoked refresh token")

    async def logout(self, refresh_token: str) -> None:
        """End the session the token belongs to; an unknown or ended one is no error."""
        await self._end_session(refresh_token_digest(refresh_token))

    async def _end_session(self, digest: str) -> None:
        async with self.refresh_tokens.database.transaction():
            await self.refresh_tokens.revoke_family(digest, self.clock())

    async def change_password(self, user_id: uuid.UUID, data: PasswordChange) -> Record:
        """The account with the new password; see `update_account`."""
        return await self.update_account(user_id, {}, data)

    async def update_account(
        self,
        user_id: uuid.UUID,
        changes: Mapping[str, Any],
        password: PasswordChange | None = None,
    ) -> Record:
        """The account with `changes` (its name) written and, given the current password, the
        new one: all of them or none. A new password ends every session of the user: refresh
        tokens stop working at once, access tokens at their expiry. Without one, this is one
        statement (`{}` only reads the account)."""
        if password is None:
            return self._account(await self.users.update(user_id, changes))
        user = self._account(await self.users.get(user_id))
        if not await verify_password(password.current_password, user.hashed_password):
            raise InvalidField("current_password", "password_mismatch", "Wrong current password")
        await _hard_to_guess("new_password", password.new_password, user.email)
        hashed = await hash_password(password.new_password)
        async with self.users.database.transaction():
            updated = await self.users.update(user_id, {**changes, "hashed_password": hashed})
            await self.refresh_tokens.revoke_user(user_id, self.clock())
        return self._account(updated)

    @staticmethod
    def _account(row: Record | None) -> Record:
        """The caller's row; a token whose user was deleted since is a 401."""
        if row is None:
            raise AuthenticationFailed("The user of this token no longer exists")
        return row

    async def _session(
        self, user_id: uuid.UUID, is_superuser: bool, *, family_id: uuid.UUID, rotated: bool
    ) -> TokenResponse:
        token, digest = new_refresh_token()
        now = self.clock()
        anchor = {} if rotated else {"id": family_id}  # a session's first token is its anchor
        await self.refresh_tokens.add(
            **anchor,
            digest=digest,
            family_id=family_id,
            user_id=user_id,
            created_at=now,
            expires_at=now + self.refresh_ttl,
        )
        access = self.tokens.issue(Principal(id=user_id, is_superuser=is_superuser))
        return TokenResponse(
            access_token=access,
            expires_in=int(self.tokens.ttl.total_seconds()),
            refresh_token=token,
        )

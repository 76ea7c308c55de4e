"""Bearer tokens (PyJWT, HS256) and password hashing (argon2id via pwdlib)."""

import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import anyio.to_thread
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from src.core.config import Settings
from src.core.errors import AuthenticationFailed

ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, read from the token alone (no database round trip per request)."""

    id: uuid.UUID
    is_superuser: bool = False


class TokenService:
    def __init__(self, *, secret: str, issuer: str, ttl: timedelta) -> None:
        self._secret = secret
        self._issuer = issuer
        self.ttl = ttl
        # A client sends the same token with every request, and PyJWT's decode costs
        # more than the rest of the auth path: verify each token once, then only
        # re-check its expiry. Failures are not cached (exceptions never are).
        self._verified = lru_cache(maxsize=4096)(self._verify)

    @classmethod
    def from_settings(cls, settings: Settings) -> "TokenService":
        return cls(
            secret=settings.secret_key,
            issuer=settings.jwt_issuer,
            ttl=timedelta(minutes=settings.access_token_expire_minutes),
        )

    def issue(self, principal: Principal) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": str(principal.id),
            "su": principal.is_superuser,
            "iss": self._issuer,
            "iat": now,
            "exp": now + self.ttl,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def read(self, token: str) -> Principal:
        principal, expires_at = self._verified(token)
        if expires_at <= time.time():
            raise AuthenticationFailed("Invalid or expired token")
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        """Signature and claims check; its result is cached per token (see __init__)."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                options={"require": ["sub", "exp", "iat", "iss"]},
            )
            principal = Principal(
                id=uuid.UUID(claims["sub"]), is_superuser=claims.get("su") is True
            )
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise AuthenticationFailed("Invalid or expired token") from error
        return principal, float(claims["exp"])


_passwords = PasswordHash((Argon2Hasher(),))
# Verified against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = _passwords.hash("featwright-timing-equalizer")


# Each argon2 hash takes ~64 MiB and a core for a while: run at most one per core,
# so a burst of logins queues here instead of exhausting memory and starving requests.
_hashing = anyio.CapacityLimiter(os.cpu_count() or 1)


async def hash_password(password: str) -> str:
    """Argon2 is deliberately slow: hash off the event loop."""
    return await anyio.to_thread.run_sync(_passwords.hash, password, limiter=_hashing)


async def verify_password(password: str, hashed: str | None) -> bool:
    matches = await anyio.to_thread.run_sync(
        _passwords.verify,
        password,
        hashed if hashed is not None else _DUMMY_HASH,
        limiter=_hashing,
    )
    return matches and hashed is not None

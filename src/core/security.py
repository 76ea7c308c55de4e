"""Bearer tokens (PyJWT, HS256), refresh tokens, password rules and hashing (argon2id via
pwdlib), and the security event log."""

import hashlib
import hmac
import os
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import anyio.to_thread
import jwt
import structlog
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from zxcvbn import zxcvbn

from src.core.config import Settings
from src.core.errors import AuthenticationFailed

ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, read from the token alone (no database round trip per request).

    `is_superuser` is the token's claim, a hint only: the statement that would use a
    superuser's rights checks the user's row as it runs (`OwnedRepository`), so a demoted
    or deleted account loses them at once."""

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


# --------------------------------------------------------------------- refresh tokens

REFRESH_TOKEN_BYTES = 32


def new_refresh_token() -> tuple[str, str]:
    """A random refresh token and the digest it is stored as."""
    token = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
    return token, refresh_token_digest(token)


def refresh_token_digest(token: str) -> str:
    """SHA-256: the token is 256 random bits, so no slow hash is needed, and a stolen
    table holds nothing that can be presented."""
    return hashlib.sha256(token.encode()).hexdigest()


# -------------------------------------------------------------------------- passwords

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
MIN_PASSWORD_SCORE = 3
"""zxcvbn's 0-4 scale; 3 is "safely unguessable: moderate protection from offline attacks"."""
_ZXCVBN_MAX_LENGTH = 72  # zxcvbn refuses longer input; the first 72 characters decide
_EMAIL_PARTS = re.compile(r"[^a-z0-9]+")


async def password_problem(password: str, email: str) -> str | None:
    """`weak_password` off the event loop: zxcvbn takes 10-30 ms of CPU per password."""
    return await anyio.to_thread.run_sync(weak_password, password, email, limiter=_hashing)


def weak_password(password: str, email: str) -> str | None:
    """Why `password` is too easy to guess, or None. Offline: zxcvbn's dictionaries of
    common passwords, names and words, its patterns (sequences, repeats, dates, keyboard
    walks), and the account's email, whose parts may not appear in the password."""
    lowered = password.lower()
    local, _, domain = email.lower().partition("@")
    parts = [local, *_EMAIL_PARTS.split(local), domain.partition(".")[0]]
    if any(len(part) >= 3 and part in lowered for part in parts):
        return "must not contain the email address or a part of it"
    result = zxcvbn(password[:_ZXCVBN_MAX_LENGTH], user_inputs=[email, *parts])
    if result["score"] >= MIN_PASSWORD_SCORE:
        return None
    warning = result["feedback"]["warning"] or "it follows a common pattern"
    return (
        f"is too easy to guess ({warning.rstrip('.')}); use a longer passphrase of unrelated"
        " words or a password manager's random password"
    )


# ---------------------------------------------------------------------- security log

_security = structlog.stdlib.get_logger("src.security")


class SecurityLog:
    """`security` events (failed logins, throttling, refresh-token reuse) for alerting,
    with the client address and the account as a keyed hash: the same account gives the
    same value in every line, but the log names no email."""

    def __init__(self, key: str) -> None:
        self._key = hashlib.sha256(b"featwright-security-log:" + key.encode()).digest()

    def account(self, name: str) -> str:
        digest = hmac.new(self._key, name.lower().encode(), hashlib.sha256)
        return digest.hexdigest()[:16]

    def event(self, kind: str, *, client: str, account: str | None = None, **fields: Any) -> None:
        hashed = None if account is None else self.account(account)
        _security.warning("security", kind=kind, client=client, account=hashed, **fields)

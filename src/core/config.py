"""Settings, read once from the environment (and an optional `.env`)."""

import math
import os
import re
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from zxcvbn import zxcvbn

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./var/featwright.db"
GENERATED_SECRET_FILE = Path("var/secret.key")
MIN_SECRET_BYTES = 32
# A production SECRET_KEY is what a generator writes for MIN_SECRET_BYTES or more random
# bytes: hex (secrets.token_hex, openssl rand -hex) or base64 / base64url (secrets.token_urlsafe,
# openssl rand -base64), `=` padding aside, at 4 and 6 bits a character.
SECRET_ALPHABETS = (
    ("hex", re.compile(r"[0-9a-fA-F]+"), 4),
    ("base64", re.compile(r"[A-Za-z0-9+/_-]+"), 6),
)
# And zxcvbn's patterns (words, names, dates, keyboard runs, sequences, repeats) account for
# at most a third of its bits: each pattern counts as the log2 of the guesses zxcvbn needs
# for it, every other character at its alphabet's bits. Measured on 3,000 to 4,000 keys of
# each generator form (token_hex(32), token_urlsafe(32) and (48), base64 of 32 bytes): every
# one kept 78% of its bits or more. Passphrases of 6 to 16 random words (of the 20,000
# commonest, with separators, capitals or digits) kept at most 71%, memorable keys 31-59%,
# a 16-byte key written twice 28-42%.
MIN_SECRET_UNPATTERNED_SHARE = 2 / 3
SECRET_APP_WORDS = ("featwright", "jwt", "hs256")  # words zxcvbn's dictionaries lack
SECRET_CHECKED_CHARACTERS = 128  # zxcvbn reads the first 128 (<= 0.15 s; 0.9 s for 256)
SECRET_KEY_COMMAND = "openssl rand -base64 48"  # as good: Python's secrets.token_urlsafe(48)
# The async driver for each plain scheme people write in a DATABASE_URL.
ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


class Settings(BaseSettings):
    # An error quotes no input: the environment holds SECRET_KEY and database passwords.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    database_url: str = Field(default=DEFAULT_SQLITE_URL, repr=False)  # may hold a password
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    secret_key: str = Field(default="", repr=False)
    access_token_expire_minutes: int = Field(default=15, ge=1)
    """Access tokens are short-lived: a refresh token gets the next one."""
    refresh_token_expire_days: int = Field(default=14, ge=1)
    """A refresh token unused this long expires; each use rotates it (a new one, same expiry
    span from then)."""
    jwt_issuer: str = "featwright"
    # Connections beyond the pool are opened and closed per request under load,
    # which costs more than waiting for a pooled one: no overflow by default.
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_pool_timeout: float = Field(default=10.0, gt=0)
    db_connect_timeout: float = Field(default=5.0, gt=0)
    db_statement_timeout: float = Field(default=30.0, gt=0)
    db_pgbouncer: bool = False
    """PgBouncer in transaction pooling mode in front of PostgreSQL: statements unnamed (no
    prepared statement outlives its transaction) and no settings in the startup packet
    (PgBouncer refuses them; give the database its statement_timeout instead)."""
    log_level: str = "info"
    log_format: Literal["text", "json"] = "text"
    """`json` (production): one JSON object per line; `text`: readable, for development."""
    log_requests: bool = True
    """One log line per request (`featwright serve --no-access-log` turns it off)."""
    metrics_token: SecretStr | None = Field(default=None, repr=False)
    """Serves `/metrics` to `Authorization: Bearer <this>` and records the request metrics;
    unset, there is no `/metrics` and nothing is recorded."""
    cors_origins: str = ""
    """Comma-separated origins whose pages may call the API (`https://app.example.com`);
    empty: no cross-origin access."""
    environment: Literal["development", "production"] = "development"
    require_if_match: bool = False
    """Refuse (428) a PUT or DELETE that does not say which version it replaces."""
    idempotency_ttl_hours: int = Field(default=24, ge=24)
    list_exact_total_limit: int = Field(default=10_000, ge=0)
    """A list's total is counted exactly up to this many rows, estimated beyond (PostgreSQL)."""
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    """A request's target and header fields (names, values, 4 bytes each for `: ` and CRLF);
    a larger head is answered 431 by `featwright serve` (src/core/http_limits.py)."""
    max_header_fields: int = Field(default=100, ge=1)
    """Header fields per request; more are answered 431 by `featwright serve`."""
    redis_url: str | None = Field(default=None, repr=False)
    """Shared rate-limit counters for several processes; memory (per process) when unset."""
    rate_limit_per_client: str = "30/minute"
    """Login, register and refresh attempts per client address (limits' notation)."""
    rate_limit_per_client_account: str = "10/minute"
    """Failed logins per (client address, account) pair; then 429 for that pair only."""
    rate_limit_per_account: str = "10/minute"
    """Failed logins per account from all addresses; past it each login for the account is
    slowed down by LOGIN_SLOWDOWN_SECONDS, never refused, so no one can lock a user out."""
    login_slowdown_seconds: float = Field(default=1.0, ge=0, le=30)
    rate_limit_writes_per_user: str = "600/minute"
    """Creates, updates and deletes per user (shared through Redis when REDIS_URL is set)."""
    shutdown_timeout: float = Field(default=30.0, gt=0)
    """Seconds a SIGTERM waits for requests in flight before closing them."""
    forwarded_allow_ips: str = ""
    """Comma-separated proxy addresses or networks (`127.0.0.1`, `10.0.0.0/8`) whose
    X-Forwarded-For and X-Forwarded-Proto `featwright serve` believes; empty: none, the
    client is the connection's peer."""

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _no_empty_token(cls, token: object) -> object:
        """`METRICS_TOKEN=` (empty) means no /metrics, as unset does."""
        return None if token == "" else token

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        """`postgresql://...` means `postgresql+asyncpg://...`: the app is async end to end."""
        scheme, separator, rest = url.partition("://")
        return f"{ASYNC_DRIVERS.get(scheme, scheme)}{separator}{rest}"

    @model_validator(mode="after")
    def _ensure_secret_key(self) -> "Settings":
        """Without SECRET_KEY, keep a random key in var/ so tokens survive restarts.

        Not in production: there a key generated on one machine's disk would differ on
        the next one and vanish with the container, so the key must be given, and a
        placeholder someone forgot to replace is refused like a missing one."""
        if self.environment == "production":
            _check_production_secret(self.secret_key)
        if not self.secret_key:
            self.secret_key = _generated_secret()
        if len(self.secret_key.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes (HS256 keys shorter"
                " than the hash can be brute-forced from any token)"
            )
        return self


def _check_production_secret(key: str) -> None:
    """Refuse a key that is not a generator's output for 32+ random bytes (SECRET_ALPHABETS,
    so 256 bits if every character is random) or in which zxcvbn's patterns account for more
    than a third of those bits (MIN_SECRET_UNPATTERNED_SHARE). The message never quotes it."""
    rule = (
        f"ENVIRONMENT=production needs a SECRET_KEY that a generator wrote for at least"
        f" {MIN_SECRET_BYTES} random bytes: 64+ hex digits or 43+ base64 or base64url characters,"
        " in which zxcvbn finds no words, dates, keyboard runs, sequences or repeats worth more"
        f" than a third of its bits. Generate one with: {SECRET_KEY_COMMAND}"
    )
    if not key:
        raise ValueError(
            "SECRET_KEY must be set when ENVIRONMENT=production (no key is generated there)."
            f" {rule}"
        )
    digits = key.rstrip("=")
    alphabet = next(
        ((name, bits) for name, pattern, bits in SECRET_ALPHABETS if pattern.fullmatch(digits)),
        None,
    )
    if alphabet is None:
        raise ValueError(f"SECRET_KEY has characters no hex or base64 generator writes. {rule}")
    name, bits_per_character = alphabet
    capacity = len(digits) * bits_per_character
    if capacity < 8 * MIN_SECRET_BYTES:
        raise ValueError(
            f"SECRET_KEY is too short: {len(digits)} {name} characters hold at most {capacity}"
            f" random bits, not {8 * MIN_SECRET_BYTES}. {rule}"
        )
    checked = digits[:SECRET_CHECKED_CHARACTERS]
    found = zxcvbn(checked, user_inputs=SECRET_APP_WORDS, max_length=len(checked))
    credited = 0.0
    for match in found["sequence"]:
        length_bits = len(match["token"]) * bits_per_character
        if str(match["pattern"]) == "bruteforce":  # characters no pattern explains (unstubbed)
            credited += length_bits
        else:
            credited += min(length_bits, math.log2(match["guesses"]))
    share = credited / (len(checked) * bits_per_character)
    if share < MIN_SECRET_UNPATTERNED_SHARE:
        raise ValueError(
            f"SECRET_KEY follows patterns: zxcvbn explains {1 - share:.0%} of its bits by"
            f" words, names, dates, keyboard runs, sequences or repeats. {rule}"
        )


def _generated_secret() -> str:
    """Create the key file atomically: a racing process either wins or reads a full key.
    var/ is created for this user alone (0700): it also holds the SQLite database."""
    GENERATED_SECRET_FILE.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not GENERATED_SECRET_FILE.exists():
        with tempfile.NamedTemporaryFile(
            "w", dir=GENERATED_SECRET_FILE.parent, prefix=".secret-", delete=False
        ) as draft:
            draft.write(secrets.token_urlsafe(48))
        os.chmod(draft.name, 0o600)
        try:
            os.link(draft.name, GENERATED_SECRET_FILE)  # fails if another process won
        except FileExistsError:
            pass
        finally:
            os.unlink(draft.name)
    key = GENERATED_SECRET_FILE.read_text().strip()
    if not key:
        raise RuntimeError(f"{GENERATED_SECRET_FILE} is empty: delete it to generate a new key")
    return key


@lru_cache
def get_settings() -> Settings:
    return Settings()

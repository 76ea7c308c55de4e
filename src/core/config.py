"""Settings, read once from the environment (and an optional `.env`)."""

import os
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./var/featwright.db"
GENERATED_SECRET_FILE = Path("var/secret.key")
MIN_SECRET_BYTES = 32
# Fragments of the keys that tutorials, templates and .env examples ship with,
# compared without case or punctuation: "Change-Me-In-Production" is "changemeinproduction".
PLACEHOLDER_SECRET_MARKERS = (
    "changeme",
    "changethis",
    "replaceme",
    "yoursecret",
    "secretkey",
    "placeholder",
    "insecure",
    "example",
    "dummy",
)
# A random key of 32+ characters has far more; "k" * 32 or "0123456789" * 4 do not.
MIN_DISTINCT_SECRET_CHARACTERS = 12
PLACEHOLDER_SECRETS = frozenset({"secret", "password", "test", "dev", "development"})
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
    access_token_expire_minutes: int = Field(default=30, ge=1)
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
    redis_url: str | None = Field(default=None, repr=False)
    """Shared rate-limit counters for several processes; memory (per process) when unset."""
    rate_limit_per_client: str = "30/minute"
    """Login and register attempts per client address (limits' notation)."""
    rate_limit_per_account: str = "10/minute"
    """Login and register attempts per email address."""
    shutdown_timeout: float = Field(default=30.0, gt=0)
    """Seconds a SIGTERM waits for requests in flight before closing them."""

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
    if not key:
        raise ValueError(
            "SECRET_KEY must be set when ENVIRONMENT=production (no key is generated there):"
            ' set it to a random value, e.g. python -c "import secrets;'
            ' print(secrets.token_urlsafe(48))"'
        )
    letters = "".join(character for character in key.lower() if character.isalnum())
    if letters in PLACEHOLDER_SECRETS or any(
        marker in letters for marker in PLACEHOLDER_SECRET_MARKERS
    ):
        raise ValueError(
            "SECRET_KEY is a well-known placeholder; ENVIRONMENT=production needs a random"
            " key of at least 32 bytes"
        )
    if len(set(key)) < MIN_DISTINCT_SECRET_CHARACTERS:
        raise ValueError(
            f"SECRET_KEY has fewer than {MIN_DISTINCT_SECRET_CHARACTERS} distinct characters:"
            " ENVIRONMENT=production needs a random key"
        )


def _generated_secret() -> str:
    """Create the key file atomically: a racing process either wins or reads a full key."""
    GENERATED_SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
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

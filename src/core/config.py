"""Settings, read once from the environment (and an optional `.env`)."""

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./var/featwright.db"
GENERATED_SECRET_FILE = Path("var/secret.key")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = DEFAULT_SQLITE_URL
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    secret_key: str = ""
    access_token_expire_minutes: int = Field(default=30, ge=1)
    jwt_issuer: str = "featwright"
    # Connections beyond the pool are opened and closed per request under load,
    # which costs more than waiting for a pooled one: no overflow by default.
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_pool_timeout: float = Field(default=10.0, gt=0)
    log_level: str = "info"

    @model_validator(mode="after")
    def _ensure_secret_key(self) -> "Settings":
        """Without SECRET_KEY, keep a random key in var/ so tokens survive restarts."""
        if not self.secret_key:
            self.secret_key = _generated_secret()
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _generated_secret() -> str:
    GENERATED_SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(GENERATED_SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return GENERATED_SECRET_FILE.read_text().strip()
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as file:
        file.write(key)
    return key


@lru_cache
def get_settings() -> Settings:
    return Settings()

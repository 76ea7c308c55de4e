import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from src.models.base import Base, UTCDateTime


class RefreshToken(Base):
    """One refresh token of a login session (its `family`), stored as a digest.

    A token is used once: refreshing marks it `used_at` and adds the next one to the same
    family. Presenting a used token again means it was copied, so the whole family is
    revoked (RFC 6819 5.2.2.3; OAuth 2.0 Security BCP 4.14). Infrastructure, not a
    resource: no version, never served.
    """

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index(None, "user_id"), Index(None, "family_id"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the token (src/core/security.py)."""
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

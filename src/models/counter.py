"""Counters that hand out 1, 2, 3 ... (`next(repo_id)`: an issue's number in its repository).

One row per counter and scope (the parent row, or the owner for `next()`), moved by an upsert
in the statement (or transaction) that creates the numbered row, so a number is never handed
out twice, even to concurrent creates, and never again after its row is deleted.
"""

import uuid

from sqlalchemy import String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from src.models.base import Base


class Counter(Base):
    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    """The numbered column, as `table.column` (`comments.number`)."""
    scope: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    """The row whose rows it numbers (a card's id), or their owner's id (`next()`)."""
    value: Mapped[int]
    """The last number handed out."""
